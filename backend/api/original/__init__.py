"""Reading a deployment of the original EyeTagger (CVRL/Annotation-Tool): pure, no ORM, no HTTP.

- ``dump``: a ``pg_dump`` plain-SQL backup (COPY or INSERT, gzipped or not), read without a database;
  ``database``: the same tables read from a live original database, read-only.
- ``rows``: the original's tables across its schema eras, as typed records.
- ``drawing``: an annotation row's PNG, SVG and stroke times, turned into a mask and a strokes document.

``services.original_import`` writes what these read. What the original stored, and why each
rule here holds, is described in the README ("Coming from the original EyeTagger").
"""
