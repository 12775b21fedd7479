"""Development server: migrate, load demo data into an empty database, serve.

Usage: ``python run.py`` (HOST and PORT override 127.0.0.1:5000).
"""

from __future__ import annotations

import os

from console import create_app
from console.schema import upgrade


def main() -> None:
    """Prepare the configured database and serve the console."""
    app = create_app()
    upgrade(app)
    with app.app_context():
        from seeds.demo import DEMO_ACCOUNTS, database_is_empty, load_demo_data

        if database_is_empty():
            load_demo_data()
            print("Loaded the demo data. Demo staff accounts (development only):")
            for role, (email, password) in DEMO_ACCOUNTS.items():
                print(f"  {role:<8} {email:<24} {password}")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    app.run(host=host, port=port, debug=False)


if __name__ == "__main__":
    main()
