"""Receiving uploaded files: a file the server cannot spool to disk is reported on the form, not a 500.

Django spools an upload larger than FILE_UPLOAD_MAX_MEMORY_SIZE to FILE_UPLOAD_TEMP_DIR while it
arrives. If that folder is missing, read-only or full, Django's own handler raises OSError
while the request body is parsed — in the CSRF check, before any view runs — and the user gets a
server error. This handler skips the file instead and notes why on the request; views that take
files show ``upload_failure(request)`` as the form's error.
"""

import tempfile

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


class SpoolingUploadHandler(TemporaryFileUploadHandler):
    """Spool large uploads to FILE_UPLOAD_TEMP_DIR as Django does; skip a file that cannot be written there."""

    def new_file(self, *args, **kwargs):
        # The previous file, if any, is complete and belongs to request.FILES: never close it here.
        self.__dict__.pop("file", None)
        try:
            super().new_file(*args, **kwargs)
        except OSError as error:  # the folder is missing, not writable, or full
            self._skip(error)

    def receive_data_chunk(self, raw_data, start):
        try:
            return super().receive_data_chunk(raw_data, start)
        except OSError as error:  # the disk filled up while the file arrived
            self._skip(error)

    def _skip(self, error: OSError):
        if hasattr(self, "file"):
            self.file.close()  # removes what was written of it
            del self.file
        failures = self.request.__dict__.setdefault("upload_failures", [])
        failures.append(f"{self.file_name}: {error.strerror or error}")
        raise SkipFile()


def upload_failure(request) -> str | None:
    """Return why an uploaded file of this request was not received, or None if none failed."""
    failures = getattr(request, "upload_failures", None)
    if not failures:
        return None
    folder = settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()
    return (
        f"the server could not receive the uploaded file ({'; '.join(failures)}) in its upload folder, "
        f"FILE_UPLOAD_TEMP_DIR ({folder}); an administrator must make it writable with room for the upload."
    )
