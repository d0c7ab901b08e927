#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError:
        from django.conf import settings

        from config import embedded_db

        # Without DATABASE_URL the database is the embedded server `make run` starts: say so, not libpq's words.
        if settings.EMBEDDED_DATABASE and embedded_db.running_url(settings.VAR_DIR) is None:
            sys.exit(embedded_db.not_running_message(settings.VAR_DIR))
        raise


if __name__ == "__main__":
    main()
