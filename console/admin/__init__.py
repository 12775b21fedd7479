"""Flask-Admin views of the console, one module per model.

``site.init_admin`` builds an app's admin from the declared table of views;
``registry`` is the public list of those views that permissions, the
Content-Security-Policy and the tests iterate; ``base`` holds the secured base views
every view inherits.
"""
