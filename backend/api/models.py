"""EyeTagger's data: datasets of images, and each annotator's annotation of an image."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


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
        null=True,
        blank=True,
        default=1,
        help_text="Distinct annotators wanted per image; empty means every annotator sees every image.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "sha256"], name="image_unique_sha256_per_dataset"),
            models.UniqueConstraint(fields=["dataset", "path"], name="image_unique_path_per_dataset"),
        ]
        indexes = [models.Index(fields=["dataset", "position"], name="image_dataset_position")]

    def __str__(self):
        return self.path

    @property
    def short_id(self) -> str:
        """Return the first 8 hex digits of the hash, enough to tell images apart by eye."""
        return self.sha256[:8]


class Annotation(models.Model):
    """One annotator's work on one image: strokes, answer and text, with its version."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"

    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    strokes = models.JSONField(default=list, blank=True, help_text="The strokes, as in the strokes document.")
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
