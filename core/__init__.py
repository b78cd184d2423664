"""What every package of lectern shares and nothing of the project is imported by it.

Public API:

- `LecternError`: the one error base (`code`, `message`, `details`, `http_status`) (`errors`);
- `Base`, `NAMING_CONVENTION`: the declarative base of every table (`orm`).
"""

from core.errors import LecternError
from core.orm import NAMING_CONVENTION, Base

__all__ = ["NAMING_CONVENTION", "Base", "LecternError"]
