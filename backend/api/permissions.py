"""Who may do what: the one place where roles turn into permissions.

Roles: annotators draw; researchers read everything and export; admins (staff) manage
everything and may also annotate. Study participants have no role: they reach only the
participation API (``IsParticipant``), and only their own participation.

Which *rows* a user sees is decided by the selectors (``selectors/``, starting from
``selectors.visible_datasets``): an annotator sees the datasets open to every annotator and
those they were chosen for, with their images and only their own work. Objects outside them
are 404, so their existence does not leak.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import Role


def user_role(user) -> Role | None:
    """Return the user's role, or None for an anonymous user or one without a role."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_eyetagger_role", False)
    if cached is not False:
        return cached
    groups = () if user.is_staff else set(user.groups.values_list("name", flat=True))
    return remember_role(user, role_of(is_staff=user.is_staff, groups=groups))


def role_of(*, is_staff: bool, groups) -> Role | None:
    """Return the role of a user who is staff or not and in these groups (their names)."""
    if is_staff:
        return Role.ADMIN
    return Role.RESEARCHER if Role.RESEARCHER in groups else Role.ANNOTATOR if Role.ANNOTATOR in groups else None


def remember_role(user, role: Role | None) -> Role | None:
    """Keep the user's role on the user object for the rest of the request; return it."""
    user._eyetagger_role = role
    return role


def can_annotate(user) -> bool:
    return user_role(user) in (Role.ANNOTATOR, Role.ADMIN)


def can_read_all(user) -> bool:
    """Researchers and admins see every annotator's work."""
    return user_role(user) in (Role.RESEARCHER, Role.ADMIN)


class HasRole(BasePermission):
    """Any signed-in user with a role may read what the selectors show them."""

    message = "Your account has no role in EyeTagger yet; ask an admin to make you an annotator or researcher."

    def has_permission(self, request, view):
        return user_role(request.user) is not None


class CanAnnotate(HasRole):
    """Writing one's own annotations: annotators and admins. Reading: any role."""

    message = "Only annotators and admins may save annotations; researchers have read-only access."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return super().has_permission(request, view)
        return can_annotate(request.user)


class CanTakeImages(HasRole):
    """Being handed images by the queue, and skipping them: annotators and admins."""

    message = "Only annotators and admins are handed images to annotate; researchers have read-only access."

    def has_permission(self, request, view):
        return can_annotate(request.user)


class IsAdmin(HasRole):
    """Managing EyeTagger: admins (staff) only."""

    message = "Only admins may do this."

    def has_permission(self, request, view):
        return user_role(request.user) == Role.ADMIN


class IsResearcherOrAdmin(HasRole):
    """Reading everyone's work in bulk (exports, statistics)."""

    message = "Only researchers and admins may do this."

    def has_permission(self, request, view):
        return can_read_all(request.user)


def participant_of(user):
    """Return the study participant the user is, or None (annotators, researchers, admins are not)."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_eyetagger_participant", False)
    if cached is False:
        from .models import Participant

        cached = Participant.objects.select_related("study").filter(user=user).first()
        user._eyetagger_participant = cached
    return cached


class IsParticipant(BasePermission):
    """The participation API: study participants only, each reaching only their own participation.

    A participant's user has no role, so every other endpoint refuses them (HasRole); this is
    the only permission that lets them in, and every participation view reads only
    ``participant_of(request.user)``'s own rows.
    """

    message = "Only study participants may do this: open your study's link to take part."

    def has_permission(self, request, view):
        return participant_of(request.user) is not None
