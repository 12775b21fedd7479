"""Demo data for the console (``flask --app console seed``)."""
