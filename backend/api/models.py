"""EyeTagger's data: datasets of images, and each annotator's annotation of an image."""

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Shuffle keys and seeds are non-negative and fit a signed 64-bit integer on every database.
KEY_BITS = 62
# The random order cuts the images into buckets of about this many (see Dataset.bucket_shift).
BUCKET_SIZE = 32


def new_seed() -> int:
    """Return a random dataset seed."""
    return secrets.randbits(KEY_BITS)


def shuffle_key(seed: int, text: str) -> int:
    """Return a stable pseudo-random key for ``text`` under ``seed`` (the image's place in the random order).

    SHA-256 of the seed and the text, so anyone can recompute an annotator's order from the
    dataset's seed, the images' SHA-256 and the annotator's id.
    """
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - KEY_BITS)


class Role(models.TextChoices):
    """What a user may do. Annotators and researchers are groups; admins are staff."""

    ANNOTATOR = "annotator"
    RESEARCHER = "researcher"
    ADMIN = "admin"


class Profile(models.Model):
    """What EyeTagger knows about a user beyond Django's own fields."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    is_test = models.BooleanField(
        default=False,
        help_text="Test users' work is left out of progress counts, targets and exports unless asked for.",
    )

    def __str__(self):
        return f"profile of {self.user}"


class Dataset(models.Model):
    """A set of images, the question annotators answer about each, and what they must provide."""

    class Access(models.TextChoices):
        ALL = "all", "every annotator"
        CHOSEN = "chosen", "chosen annotators"

    class Order(models.TextChoices):
        RANDOM = "random", "random per annotator (stable)"
        FILE = "file", "file order (metadata.csv)"

    name = models.CharField(max_length=200, help_text="Shown to annotators.")
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    root = models.CharField(
        max_length=500,
        unique=True,
        help_text="Folder of the dataset, relative to DATASET_ROOT; it holds images/ and metadata.csv.",
    )
    question = models.CharField(
        max_length=500, blank=True, help_text='Asked about every image, e.g. "Is this image real or fake?".'
    )
    choices = models.JSONField(
        default=list, blank=True, help_text='Answer choices, e.g. ["real", "fake"]. May be empty.'
    )
    require_choice = models.BooleanField(default=False, help_text="An answer must be chosen to submit.")
    require_mask = models.BooleanField(default=True, help_text="A non-empty mask must be drawn to submit.")
    require_text = models.BooleanField(default=False, help_text="A justification must be typed to submit.")
    annotators_per_image = models.PositiveIntegerField(
        "annotators per image",
        null=True,
        blank=True,
        default=None,
        help_text="Distinct annotators wanted per image (test users never count); empty means every annotator "
        "sees every image.",
    )
    access = models.CharField(
        max_length=16,
        choices=Access.choices,
        default=Access.ALL,
        help_text="Who may annotate this dataset and see its images.",
    )
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="chosen_datasets",
        help_text="The annotators who may work on this dataset when access is 'chosen annotators'.",
    )
    order = models.CharField(
        max_length=16,
        choices=Order.choices,
        default=Order.RANDOM,
        help_text="The order in which each annotator is handed the images.",
    )
    lease_minutes = models.PositiveIntegerField(
        "lease (minutes)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="How long an image handed out stays reserved for its annotator without any activity; "
        "saving extends it.",
    )
    images_per_annotator = models.PositiveIntegerField(
        "images per annotator",
        null=True,
        blank=True,
        help_text="Most images one annotator submits (a quota, as the original tool's 100 random images); "
        "empty for no limit.",
    )
    seed = models.BigIntegerField(
        default=new_seed,
        editable=False,
        help_text="Seeds the random order: an image's key is SHA-256(seed:sha256), an annotator starts at "
        "SHA-256(seed:annotator id).",
    )
    image_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Images in the dataset, kept up to date by the importer."
    )
    pool_version = models.PositiveBigIntegerField(
        default=0,
        editable=False,
        help_text="Bumped whenever images may have become available again, so an annotator found to have "
        "nothing left is not searched again until then.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def start_key_for(self, annotator_id: int) -> int:
        """Return where this annotator's walk through the random order starts."""
        return shuffle_key(self.seed, f"annotator:{annotator_id}")

    def annotator_key(self, annotator_id: int, sha256: str) -> int:
        """Return the image's place in this annotator's own order within its bucket."""
        return shuffle_key(self.seed, f"{annotator_id}:{sha256}")

    def bucket_shift(self) -> int:
        """Return how many low bits of a random key a bucket spans: about BUCKET_SIZE images per bucket.

        One bucket (every annotator's order independent) up to BUCKET_SIZE images; the number
        of buckets doubles as the dataset doubles, so a bucket stays small at any size.
        """
        buckets = 1
        while buckets * BUCKET_SIZE < self.image_count:
            buckets *= 2
        return KEY_BITS - (buckets.bit_length() - 1)

    def clean(self):
        if not isinstance(self.choices, list) or not all(isinstance(c, str) and c.strip() for c in self.choices):
            raise ValidationError({"choices": "choices must be a list of non-empty strings."})
        if len(set(self.choices)) != len(self.choices):
            raise ValidationError({"choices": "choices must not repeat."})
        if len(self.choices) > 9:
            # Annotators pick a choice with the keys 1-9.
            raise ValidationError({"choices": f"at most 9 choices are supported; got {len(self.choices)}."})
        if self.require_choice and not self.choices:
            raise ValidationError({"require_choice": "a choice cannot be required when there are no choices."})
        if self.annotators_per_image == 0:
            raise ValidationError({"annotators_per_image": "must be at least 1, or empty for every annotator."})
        if self.images_per_annotator == 0:
            raise ValidationError({"images_per_annotator": "must be at least 1, or empty for no limit."})


class Image(models.Model):
    """One image file of a dataset, identified by the SHA-256 of its bytes."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="images")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file, in hex (the original tool's img_id).")
    path = models.CharField(max_length=500, help_text="Path of the file relative to the dataset's folder.")
    position = models.PositiveIntegerField(default=0, help_text="Order of the image in metadata.csv.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    ground_truth = models.CharField(max_length=200, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Every other column of metadata.csv.")
    shuffle_key = models.BigIntegerField(
        default=0, help_text="The image's place in the dataset's random order: SHA-256(dataset seed:sha256)."
    )
    # Kept up to date in the same transaction as every assignment change (services.queue), so the
    # queue finds the images furthest from their target through an index instead of counting.
    reserved_count = models.PositiveIntegerField(
        default=0, help_text="Non-test annotators holding the image: leased to them, or submitted by them."
    )
    submitted_count = models.PositiveIntegerField(default=0, help_text="Non-test annotators who submitted it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "sha256"], name="image_unique_sha256_per_dataset"),
            models.UniqueConstraint(fields=["dataset", "path"], name="image_unique_path_per_dataset"),
        ]
        indexes = [
            models.Index(fields=["dataset", "position"], name="image_dataset_position"),
            # The queue's walks: by fill level, then the annotator's order (random key, or file position).
            models.Index(fields=["dataset", "reserved_count", "shuffle_key", "id"], name="image_queue_random"),
            models.Index(fields=["dataset", "reserved_count", "position", "id"], name="image_queue_file"),
            # Walks that ignore the fill level: every annotator sees every image, and test users.
            models.Index(fields=["dataset", "shuffle_key", "id"], name="image_dataset_shuffle"),
        ]

    def __str__(self):
        return self.path

    @property
    def short_id(self) -> str:
        """Return the first 8 hex digits of the hash, enough to tell images apart by eye."""
        return self.sha256[:8]


class ImageAttachment(models.Model):
    """A file that goes with an image, named by a column of metadata.csv and imported with it.

    An AI's saliency map (``ai_saliency``), shown to study participants under a condition that
    shows it; a reference mask (``reference_mask``), white where the region is, that practice
    and catch images are judged against. Served only through views that check who asks, as
    the images are.
    """

    class Kind(models.TextChoices):
        AI_SALIENCY = "ai_saliency", "AI saliency map"
        REFERENCE_MASK = "reference_mask", "reference mask"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    path = models.CharField(max_length=500, help_text="Path of the file relative to the dataset's folder.")
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["image", "kind"]
        constraints = [models.UniqueConstraint(fields=["image", "kind"], name="attachment_one_per_image_and_kind")]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.image}"


class Annotation(models.Model):
    """One annotator's work on one image: strokes, answer and text, with its version."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"

    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    strokes = models.JSONField(
        default=list,
        blank=True,
        help_text="The strokes, as in the strokes document; empty while they are kept in chunks (``chunked``).",
    )
    chunked = models.BooleanField(
        default=False,
        help_text="The strokes are kept as StrokeChunk rows, one per incremental save, not in ``strokes``.",
    )
    last_op = models.CharField(
        max_length=64,
        blank=True,
        help_text="The id of the last incremental save applied: a retry of it is not applied again.",
    )
    label = models.CharField(max_length=200, null=True, blank=True, help_text="One of the dataset's choices.")
    text = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change of the content.")
    started_at = models.DateTimeField(help_text="When the annotator first opened the image.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    active_ms = models.PositiveBigIntegerField(default=0, help_text="Time spent actively annotating, in ms.")
    client = models.JSONField(
        default=dict, blank=True, help_text="user_agent, device_pixel_ratio and pointer_types of the client."
    )
    # Derived from the strokes on every save, so lists and exports need not rasterize.
    stroke_count = models.PositiveIntegerField(default=0)
    mask_area = models.PositiveIntegerField(default=0, help_text="Pixels set in the mask.")
    mask_rle = models.TextField(blank=True, help_text="The mask as COCO compressed RLE counts (column-major).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["image", "annotator", "id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="annotation_one_per_image_and_annotator"),
        ]
        indexes = [
            models.Index(fields=["annotator", "status"], name="annotation_annotator_status"),
            models.Index(fields=["image", "status"], name="annotation_image_status"),
        ]

    def __str__(self):
        return f"{self.annotator} on {self.image} (v{self.version})"


class AnnotationRevision(models.Model):
    """A past state of an annotation, kept when a save would otherwise lose it."""

    class Reason(models.TextChoices):
        OVERWRITE = "overwrite", "overwritten by a save"
        RESTORE = "restore", "replaced by a restore"

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(help_text="The annotation's version while it had this content.")
    strokes = models.JSONField(default=list, blank=True)
    chunked = models.BooleanField(
        default=False,
        help_text="The strokes are the annotation's StrokeChunk rows live at ``version`` (``strokes`` is empty).",
    )
    stroke_count = models.PositiveIntegerField(default=0, help_text="How many strokes it holds (when chunked).")
    label = models.CharField(max_length=200, null=True, blank=True)
    text = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Annotation.Status.choices)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.OVERWRITE)
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who made the change that replaced this content.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["annotation", "version"], name="revision_one_per_version"),
        ]

    def __str__(self):
        return f"v{self.version} of annotation {self.annotation_id}"


class StrokeChunk(models.Model):
    """Strokes appended to an annotation by one incremental save, with the mask before them.

    An annotation whose strokes are chunked holds its document as its live chunks (``removed_version``
    null) in order of ``start``. Chunks are never rewritten: a removal from the end retires them
    (``removed_version``) and, when it cuts one, adds its kept head as a new chunk. So a save writes
    rows in proportion to its change, and the chunks live at any past version give that version's
    strokes (what a revision of a chunked annotation refers to).
    """

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="stroke_chunks")
    start = models.PositiveIntegerField(help_text="The index of its first stroke in the document.")
    count = models.PositiveIntegerField(help_text="How many strokes it holds.")
    points = models.PositiveIntegerField(help_text="How many points its strokes hold.")
    strokes = models.TextField(help_text="Its strokes as JSON text: a list, as in the strokes document.")
    mask_before = models.TextField(blank=True, help_text="The mask of the strokes before it (COCO RLE counts).")
    area_before = models.PositiveIntegerField(default=0, help_text="Pixels set in mask_before.")
    created_version = models.PositiveIntegerField(help_text="The first version of the annotation holding it.")
    removed_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The first version without it (null: it is live)."
    )

    class Meta:
        ordering = ["annotation", "start", "created_version"]
        indexes = [
            models.Index(
                fields=["annotation", "start"],
                condition=models.Q(removed_version__isnull=True),
                name="strokechunk_live",
            ),
        ]

    def __str__(self):
        return f"strokes {self.start}..{self.start + self.count - 1} of annotation {self.annotation_id}"


class Assignment(models.Model):
    """An image handed to an annotator by the queue, and what became of it.

    One per image and annotator. A ``leased`` image is reserved for its annotator until
    ``leased_until`` (saving extends it); an expired lease is ``released`` and its slot goes
    back to the pool. ``submitted`` and ``skipped`` images never come back to that annotator.
    """

    class Status(models.TextChoices):
        LEASED = "leased", "in progress (leased)"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        RELEASED = "released", "released (lease expired)"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="assignments")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    leased_until = models.DateTimeField(null=True, blank=True, help_text="When a lease expires without activity.")
    skip_reason = models.CharField(max_length=500, blank=True, help_text="Why the annotator skipped the image.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the image was first handed out.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "annotator", "-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="assignment_one_per_image_and_annotator"),
        ]
        indexes = [
            models.Index(fields=["annotator", "dataset", "status"], name="assignment_annotator_status"),
            # Finding expired leases without scanning the dataset's assignments.
            models.Index(fields=["dataset", "status", "leased_until"], name="assignment_lease_expiry"),
        ]

    def __str__(self):
        return f"{self.image} for {self.annotator} ({self.status})"


class AnnotatorProgress(models.Model):
    """One annotator's progress through one dataset, and their place in their order of images.

    The counts are kept up to date in the same transaction as the work they count, so progress
    is read, not computed. The row is also the annotator's lock: every queue operation of one
    annotator on one dataset takes it first, so two tabs never get two different images.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="progress_rows")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="progress_rows")
    submitted_count = models.PositiveIntegerField(default=0, help_text="Images submitted.")
    skipped_count = models.PositiveIntegerField(default=0, help_text="Images skipped.")
    active_ms = models.PositiveBigIntegerField(default=0, help_text="Time spent actively annotating, in ms.")
    cursor_order = models.CharField(max_length=16, blank=True, help_text="The order the cursor belongs to.")
    cursor_key = models.BigIntegerField(
        null=True, blank=True, help_text="The last handed image's order key (random key or file position)."
    )
    cursor_image = models.BigIntegerField(null=True, blank=True, help_text="The last handed image's id.")
    exhausted_version = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The dataset's pool version when nothing was left for this annotator."
    )
    last_active_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "annotator"]
        verbose_name_plural = "annotator progress"
        constraints = [
            models.UniqueConstraint(fields=["dataset", "annotator"], name="progress_one_per_dataset_and_annotator"),
        ]

    def __str__(self):
        return f"{self.annotator} on {self.dataset}"


class OriginalAccount(models.Model):
    """A user of an original EyeTagger deployment and the account they became here, so a re-import finds them."""

    dataset = models.ForeignKey(
        Dataset,
        on_delete=models.CASCADE,
        related_name="original_accounts",
        help_text="The original deployment, known by the dataset its images became.",
    )
    original_id = models.PositiveIntegerField(help_text="auth_user.id in the original.")
    original_username = models.CharField(max_length=150, help_text="The username in the original.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="original_accounts")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "original_id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "original_id"], name="original_account_once_per_dataset"),
        ]

    def __str__(self):
        return f"{self.original_username} (original #{self.original_id}) as {self.user}"


class OriginalAnnotation(models.Model):
    """The original EyeTagger's row an annotation was imported from, kept verbatim, and how it was read."""

    class Source(models.TextChoices):
        SVG = "svg", "SVG strokes, corrected to the PNG"
        PNG = "png", "traced from the PNG"
        SVG_ONLY = "svg only", "SVG strokes (no PNG)"
        NONE = "none", "nothing drawn"

    annotation = models.OneToOneField(Annotation, on_delete=models.CASCADE, related_name="original")
    original_id = models.PositiveIntegerField(help_text="api_annotation.id in the original.")
    png = models.BinaryField(blank=True, help_text="The PNG of the original's annotation column, as stored.")
    svg = models.TextField(null=True, blank=True, help_text="annotation_svg as stored (NULL before 2024-06).")
    times = models.TextField(null=True, blank=True, help_text="annotation_times as stored (NULL before 2024-06).")
    text = models.TextField(null=True, blank=True, help_text="The text as stored, the untouched placeholder included.")
    real_button = models.BooleanField(null=True, help_text="NULL before the buttons existed (2023-08-14).")
    fake_button = models.BooleanField(null=True)
    ground_truth = models.TextField(null=True, blank=True, help_text="The row's own copy of the image's ground truth.")
    device_pixel_ratio = models.FloatField(null=True, blank=True, help_text="Of the screen the PNG was drawn on.")
    strokes_from = models.CharField(max_length=16, choices=Source.choices)
    svg_iou = models.FloatField(
        null=True, blank=True, help_text="IoU of the SVG strokes' mask with the PNG's (the PNG's is kept)."
    )
    svg_pixels_differing = models.PositiveIntegerField(null=True, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="What the import noticed about the row.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the row's content, to notice a changed row.")
    imported_version = models.PositiveIntegerField(help_text="The annotation's version the import wrote.")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["annotation"]
        verbose_name = "original EyeTagger row"

    def __str__(self):
        return f"api_annotation {self.original_id} of the original"


# The study models live in their own module; importing them here is how Django finds them.
from .study_models import Condition, Participant, Step, Study, Trial  # noqa: E402, F401
