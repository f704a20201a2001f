"""Django admin at /api/admin/: run a study — accounts and roles, datasets and their import, the queue's
assignments and progress, images, annotations with their masks, and their revision history.

Every write goes through ``services`` (the same code as the API and the commands), and every list
selects its related rows up front: the query count of a page does not grow with its rows.

Split by entity: ``users``, ``datasets``, ``images``, ``annotations`` (with their revisions),
``queue`` (assignments and progress), ``tokens`` (API tokens), ``studies`` (studies and their
participants) and ``original`` (the original EyeTagger's import and the rows it kept) each register
their ModelAdmins; ``display``, ``pictures`` and ``filters`` hold what several of them show.
"""

# Importing each registers its ModelAdmins.
from . import annotations, datasets, images, original, queue, studies, tokens, users  # noqa: F401
