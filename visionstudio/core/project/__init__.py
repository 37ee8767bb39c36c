"""Project documents and their file format (see docs/project-format.md)."""

from visionstudio.core.project.document import (
    FORMAT_NAME,
    SCHEMA_VERSION,
    ProjectDocument,
    document_from_dict,
)
from visionstudio.core.project.errors import ProjectFormatError
from visionstudio.core.project.io import (
    MIGRATIONS,
    PROJECT_SUFFIX,
    atomic_write_bytes,
    dumps_project,
    load_project,
    parse_project,
    save_project,
)

__all__ = [
    "FORMAT_NAME", "MIGRATIONS", "PROJECT_SUFFIX", "SCHEMA_VERSION", "ProjectDocument",
    "ProjectFormatError", "atomic_write_bytes", "document_from_dict", "dumps_project",
    "load_project", "parse_project", "save_project",
]
