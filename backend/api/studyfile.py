"""Read and write study files: a whole study (its protocol, conditions, catch images) as one YAML or JSON file.

Pure: no ORM, no HTTP. ``read_study`` turns the text into the study's *canonical form* (plain
dicts and lists, every default filled in) or raises StudyFileInvalid listing every problem by
its path ("steps[3].fields[0].type: ..."); ``write_study`` writes the canonical form back as
YAML or JSON. ``services.study_import`` stores a canonical form and ``selectors.study_file``
rebuilds it from the database, so a study exported and imported again is the same study: a
study file can be kept under version control and run again.

The steps follow the conventions of online-experiment tools (jsPsych's timeline): an ordered
list, each step a ``type`` with its own options. Datasets are named by slug; ``services``
checks that they exist.

One module, though long, because the study file's reading and writing must agree field by field:
every field's default, limit and check sits here beside the others (and the questionnaire's field
types beside ``check_answers``, which applies them to answers), so what ``write_study`` writes is
exactly what ``read_study`` accepts; split apart, the halves would drift.
"""

import json
import re
from datetime import datetime
from urllib.parse import urlsplit

import yaml

FORMAT_VERSION = 1
MAX_FILE_BYTES = 1_000_000
MAX_TEXT = 50_000  # characters of one Markdown text
MAX_STEPS = 50
MAX_FIELDS = 50
MAX_CHOICES = 50
MAX_IMAGES_PER_STEP = 10_000
MAX_SUBSET_IMAGES = 100_000  # file names in a phase's explicit subset

STATUSES = ("draft", "open", "paused", "closed")
WITHDRAWAL = ("keep", "delete")
PHASE_ORDERS = ("fixed", "latin-square")
CATCH_ACTIONS = ("flag", "exclude")
STEP_TYPES = ("consent", "instructions", "questionnaire", "practice", "annotation", "finish")
IMAGE_STEPS = ("practice", "annotation")
FIELD_TYPES = ("single", "multiple", "number", "text")
GUIDANCE = ("ai_label", "ai_confidence", "ai_saliency")
PLACEMENTS = ("beside", "over")
PER_PARTICIPANT = "per-participant"
PLATFORMS = {
    "prolific": {"participant": "PROLIFIC_PID", "study": "STUDY_ID", "session": "SESSION_ID"},
    "mturk": {"participant": "workerId", "study": "hitId", "session": "assignmentId"},
    "none": {"participant": "", "study": "", "session": ""},
}
REDIRECT_FIELDS = ("code", "participant", "study", "session")
# The metadata columns holding the AI's decision and its confidence. Its saliency map is always the
# ai_saliency column: a file imported with the image (importing.ATTACHMENT_COLUMNS).
DEFAULT_GUIDANCE_COLUMNS = {"label": "ai_label", "confidence": "ai_confidence"}

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,49}$")
CODE = re.compile(r"^[A-Za-z0-9_-]{4,40}$")


class StudyFileInvalid(ValueError):
    """The study file cannot be used; ``problems`` lists each as "path: what to fix"."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class _Reader:
    """Collects problems while reading, each with the path of the value it concerns."""

    def __init__(self):
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def mapping(self, value, path: str, allowed: tuple[str, ...]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping of {', '.join(allowed)}; got {type(value).__name__}")
            return {}
        unknown = [str(key) for key in value if key not in allowed]
        if unknown:
            self.problem(path, f"unknown key(s) {', '.join(unknown)}; the keys are {', '.join(allowed)}")
        return value

    def text(self, value, path: str, *, required=False, default="", limit=MAX_TEXT, pattern=None, hint="") -> str:
        if value is None:
            if required:
                self.problem(path, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(path, f"must be text; got {type(value).__name__}")
            return default
        value = str(value)
        if len(value) > limit:
            self.problem(path, f"must be at most {limit} characters; got {len(value)}")
        if required and not value.strip():
            self.problem(path, "must not be empty")
        if pattern is not None and value and not pattern.match(value):
            self.problem(path, f"{value!r} is not valid{': ' + hint if hint else ''}")
        return value

    def choice(self, value, path: str, choices: tuple[str, ...], default: str) -> str:
        if value is None:
            return default
        if value not in choices:
            self.problem(path, f"must be one of {', '.join(choices)}; got {value!r}")
            return default
        return value

    def boolean(self, value, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false; got {value!r}")
            return default
        return value

    def integer(self, value, path: str, *, low: int, high: int, default=None, required=False):
        if value is None:
            if required:
                self.problem(path, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be a whole number from {low} to {high}; got {value!r}")
            return default
        if not low <= value <= high:
            self.problem(path, f"must be from {low} to {high}; got {value}")
            return default
        return value

    def number(self, value, path: str, *, low: float, high: float, default=None):
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            self.problem(path, f"must be a number from {low} to {high}; got {value!r}")
            return default
        if not low <= value <= high:
            self.problem(path, f"must be from {low} to {high}; got {value}")
            return default
        return value

    def strings(self, value, path: str, *, limit: int, unique=True, item_limit=200, pattern=None, hint="") -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"must be a list; got {type(value).__name__}")
            return []
        if len(value) > limit:
            self.problem(path, f"at most {limit} items; got {len(value)}")
        items = []
        for index, item in enumerate(value):
            text = self.text(item, f"{path}[{index}]", required=True, limit=item_limit, pattern=pattern, hint=hint)
            if unique and text in items:
                self.problem(f"{path}[{index}]", f"{text!r} is listed twice")
            items.append(text)
        return items


def parse_text(text: str | bytes):
    """Return the data of a YAML or JSON study file, or raise StudyFileInvalid."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise StudyFileInvalid([f"the file is {len(text)} bytes; a study file may have at most {MAX_FILE_BYTES}"])
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise StudyFileInvalid([f"the file is not UTF-8 text (byte {error.start}); save it as UTF-8"]) from None
    if len(text) > MAX_FILE_BYTES:
        raise StudyFileInvalid([f"the file has {len(text)} characters; a study file may have at most {MAX_FILE_BYTES}"])
    try:
        # JSON is read as JSON (YAML 1.1 would read some JSON numbers differently); the rest as YAML.
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise StudyFileInvalid([f"the file is not valid JSON: {error}"]) from None
    except yaml.YAMLError as error:
        raise StudyFileInvalid([f"the file is not valid YAML: {error}"]) from None
    return data


def read_study(text: str | bytes) -> dict:
    """Return the canonical form of a study file's text, or raise StudyFileInvalid listing every problem."""
    return canonical(parse_text(text))


def canonical(data) -> dict:
    """Return the canonical form of a study file's data (defaults filled), or raise StudyFileInvalid."""
    reader = _Reader()
    top_keys = (
        "eyetagger_study",
        "slug",
        "title",
        "description",
        "status",
        "closes_at",
        "max_participants",
        "time_limit_minutes",
        "withdrawal",
        "seed",
        "platform",
        "guidance_columns",
        "conditions",
        "assignment",
        "catch",
        "steps",
    )
    if not isinstance(data, dict):
        raise StudyFileInvalid(["a study file is a mapping with slug, title, steps...; this one is not"])
    reader.mapping(data, "", top_keys)
    version = data.get("eyetagger_study", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        reader.problem(
            "eyetagger_study", f"this EyeTagger reads study files of format {FORMAT_VERSION}; got {version!r}"
        )
    study = {
        "eyetagger_study": FORMAT_VERSION,
        "slug": reader.text(
            data.get("slug"), "slug", required=True, limit=100, pattern=SLUG, hint="lower-case letters, digits, hyphens"
        ),
        "title": reader.text(data.get("title"), "title", required=True, limit=200),
        "description": reader.text(data.get("description"), "description"),
        "status": reader.choice(data.get("status"), "status", STATUSES, "draft"),
        "closes_at": _moment(reader, data.get("closes_at"), "closes_at"),
        "max_participants": reader.integer(data.get("max_participants"), "max_participants", low=1, high=10_000_000),
        "time_limit_minutes": reader.integer(data.get("time_limit_minutes"), "time_limit_minutes", low=1, high=10_080),
        "withdrawal": reader.choice(data.get("withdrawal"), "withdrawal", WITHDRAWAL, "keep"),
        "seed": reader.integer(data.get("seed"), "seed", low=0, high=2**62 - 1),
        "platform": _platform(reader, data.get("platform")),
        "guidance_columns": _guidance_columns(reader, data.get("guidance_columns")),
    }
    study["conditions"] = _conditions(reader, data.get("conditions"))
    slugs = [condition["slug"] for condition in study["conditions"]]
    study["assignment"] = _assignment(reader, data.get("assignment"), slugs)
    study["catch"] = _catch(reader, data.get("catch"))
    study["steps"] = _steps(reader, data.get("steps"), slugs)
    _check_protocol(reader, study)
    if reader.problems:
        raise StudyFileInvalid(reader.problems)
    return study


def _moment(reader: _Reader, value, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp as a datetime
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            reader.problem(path, f"must be a date and time such as 2027-03-01T00:00:00Z; got {value!r}")
            return None
    if moment.tzinfo is None:
        reader.problem(path, "must say its time zone, e.g. 2027-03-01T00:00:00Z (UTC)")
        return None
    return moment.isoformat()


def _platform(reader: _Reader, value) -> dict:
    keys = ("name", "params", "require_participant", "study_id", "keep_ids", "signed")
    data = reader.mapping(value, "platform", keys)
    name = reader.choice(data.get("name"), "platform.name", tuple(PLATFORMS), "none")
    given = reader.mapping(data.get("params"), "platform.params", ("participant", "study", "session"))
    params = {}
    for role, default in PLATFORMS[name].items():
        params[role] = reader.text(given.get(role, default), f"platform.params.{role}", limit=50, pattern=PARAM)
    require = reader.boolean(data.get("require_participant"), "platform.require_participant", name != "none")
    if require and not params["participant"]:
        reader.problem("platform.require_participant", "needs platform.params.participant: the parameter to require")
    study_id = reader.text(data.get("study_id"), "platform.study_id", limit=200) or None
    if study_id and not params["study"]:
        reader.problem("platform.study_id", "needs platform.params.study: the parameter that carries it")
    return {
        "name": name,
        "params": params,
        "require_participant": require,
        "study_id": study_id,
        "keep_ids": reader.boolean(data.get("keep_ids"), "platform.keep_ids", True),
        "signed": _signed(reader, data.get("signed"), params),
    }


def _signed(reader: _Reader, value, params: dict) -> bool:
    """Read ``platform.signed``: newcomers only by links signed with the study's secret (``links``)."""
    signed = reader.boolean(value, "platform.signed", False)
    if signed and not any(params.values()):
        reader.problem("platform.signed", "signs the link's platform ids: name at least one in platform.params")
    return signed


def _guidance_columns(reader: _Reader, value) -> dict:
    data = reader.mapping(value, "guidance_columns", tuple(DEFAULT_GUIDANCE_COLUMNS))
    return {
        key: reader.text(data.get(key, default), f"guidance_columns.{key}", required=True, limit=100)
        for key, default in DEFAULT_GUIDANCE_COLUMNS.items()
    }


def _conditions(reader: _Reader, value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        reader.problem("conditions", "must be a list of conditions")
        return []
    conditions = []
    for index, item in enumerate(value):
        path = f"conditions[{index}]"
        data = reader.mapping(item, path, ("slug", "name", "description", "show", "placement", "toggle"))
        slug = reader.text(data.get("slug"), f"{path}.slug", required=True, limit=50, pattern=SLUG)
        if slug in [c["slug"] for c in conditions]:
            reader.problem(f"{path}.slug", f"{slug!r} is the slug of an earlier condition")
        show = reader.strings(data.get("show"), f"{path}.show", limit=len(GUIDANCE))
        for shown in show:
            if shown not in GUIDANCE:
                reader.problem(f"{path}.show", f"{shown!r} is not guidance EyeTagger shows; use {', '.join(GUIDANCE)}")
        if "ai_confidence" in show and "ai_label" not in show:
            reader.problem(f"{path}.show", "ai_confidence is shown with ai_label (the confidence of that decision)")
        conditions.append(
            {
                "slug": slug,
                "name": reader.text(data.get("name"), f"{path}.name", default=slug, limit=100) or slug,
                "description": reader.text(data.get("description"), f"{path}.description", limit=2000),
                "show": [g for g in GUIDANCE if g in show],
                "placement": reader.choice(data.get("placement"), f"{path}.placement", PLACEMENTS, "beside"),
                "toggle": reader.boolean(data.get("toggle"), f"{path}.toggle", False),
            }
        )
    return conditions


def _assignment(reader: _Reader, value, slugs: list[str]) -> dict:
    data = reader.mapping(value, "assignment", ("between", "phase_order"))
    between = reader.strings(data.get("between"), "assignment.between", limit=50)
    for slug in between:
        if slug not in slugs:
            reader.problem(
                "assignment.between", f"{slug!r} is not one of the conditions ({', '.join(slugs) or 'none'})"
            )
    return {
        "between": between,
        "phase_order": reader.choice(data.get("phase_order"), "assignment.phase_order", PHASE_ORDERS, "fixed"),
    }


def _catch(reader: _Reader, value) -> dict | None:
    if value is None:
        return None
    data = reader.mapping(value, "catch", ("dataset", "threshold", "min_trials", "min_iou", "action"))
    return {
        "dataset": reader.text(data.get("dataset"), "catch.dataset", required=True, limit=100),
        "threshold": reader.number(data.get("threshold"), "catch.threshold", low=0, high=1, default=0.75),
        "min_trials": reader.integer(data.get("min_trials"), "catch.min_trials", low=1, high=1000, default=1),
        "min_iou": reader.number(data.get("min_iou"), "catch.min_iou", low=0, high=1),
        "action": reader.choice(data.get("action"), "catch.action", CATCH_ACTIONS, "flag"),
    }


STEP_KEYS = {
    "consent": ("type", "title", "version", "text"),
    "instructions": ("type", "title", "text", "examples", "min_seconds"),
    "questionnaire": ("type", "title", "text", "fields"),
    "practice": ("type", "title", "text", "dataset", "images", "count", "feedback", "image_seconds"),
    "annotation": (
        "type",
        "title",
        "text",
        "dataset",
        "images",
        "condition",
        "image_seconds",
        "catch",
        "subset",
        "per_condition",
    ),
    "finish": ("type", "title", "text", "completion_code", "redirect"),
}
DEFAULT_TITLES = {
    "consent": "Consent",
    "instructions": "Instructions",
    "questionnaire": "About you",
    "practice": "Practice",
    "annotation": "Annotation",
    "finish": "Thank you",
}


def _steps(reader: _Reader, value, slugs: list[str]) -> list[dict]:
    if not isinstance(value, list) or not value:
        reader.problem("steps", "must be a list of steps (consent, instructions, ..., finish)")
        return []
    if len(value) > MAX_STEPS:
        reader.problem("steps", f"at most {MAX_STEPS} steps; got {len(value)}")
    steps = []
    for index, item in enumerate(value):
        path = f"steps[{index}]"
        if not isinstance(item, dict):
            reader.problem(path, "must be a mapping with a type (consent, instructions, ...)")
            continue
        kind = item.get("type")
        if kind not in STEP_TYPES:
            reader.problem(f"{path}.type", f"must be one of {', '.join(STEP_TYPES)}; got {kind!r}")
            continue
        reader.mapping(item, path, STEP_KEYS[kind])
        step = {
            "type": kind,
            "title": reader.text(item.get("title"), f"{path}.title", limit=200) or DEFAULT_TITLES[kind],
            "text": reader.text(item.get("text"), f"{path}.text", required=kind in ("consent", "instructions")),
        }
        step.update(_STEP_READERS[kind](reader, item, path, slugs))
        steps.append(step)
    return steps


def _consent(reader, item, path, slugs) -> dict:
    return {"version": reader.text(item.get("version"), f"{path}.version", required=True, limit=50)}


def _instructions(reader, item, path, slugs) -> dict:
    examples = item.get("examples")
    found = {}
    if examples is not None and not isinstance(examples, dict):
        reader.problem(f"{path}.examples", "must be a mapping of names to {dataset, file}")
    elif examples:
        for name, example in examples.items():
            where = f"{path}.examples.{name}"
            if not isinstance(name, str) or not NAME.match(name):
                reader.problem(where, "an example's name is letters, digits and _ (e.g. real_iris)")
            data = reader.mapping(example, where, ("dataset", "file", "caption"))
            found[str(name)] = {
                "dataset": reader.text(data.get("dataset"), f"{where}.dataset", required=True, limit=100),
                "file": reader.text(data.get("file"), f"{where}.file", required=True, limit=500),
                "caption": reader.text(data.get("caption"), f"{where}.caption", limit=500),
            }
    text = item.get("text") or ""
    for name in re.findall(r"\]\(example:([^)\s]*)\)", str(text)):
        if name not in found:
            reader.problem(f"{path}.text", f"example:{name} is not in {path}.examples")
    return {
        "examples": found,
        "min_seconds": reader.integer(item.get("min_seconds"), f"{path}.min_seconds", low=0, high=3600, default=0),
    }


def _questionnaire(reader, item, path, slugs) -> dict:
    value = item.get("fields")
    if not isinstance(value, list) or not value:
        reader.problem(f"{path}.fields", "must be a list of questions")
        return {"fields": []}
    if len(value) > MAX_FIELDS:
        reader.problem(f"{path}.fields", f"at most {MAX_FIELDS} questions; got {len(value)}")
    fields = []
    for index, field in enumerate(value):
        where = f"{path}.fields[{index}]"
        keys = ("name", "label", "type", "choices", "required", "min", "max", "max_length")
        data = reader.mapping(field, where, keys)
        name = reader.text(data.get("name"), f"{where}.name", required=True, limit=50, pattern=NAME, hint="a_name")
        if name in [f["name"] for f in fields]:
            reader.problem(f"{where}.name", f"{name!r} is the name of an earlier question")
        kind = reader.choice(data.get("type"), f"{where}.type", FIELD_TYPES, "text")
        question = {
            "name": name,
            "label": reader.text(data.get("label"), f"{where}.label", required=True, limit=500),
            "type": kind,
            "required": reader.boolean(data.get("required"), f"{where}.required", True),
        }
        if kind in ("single", "multiple"):
            question["choices"] = reader.strings(data.get("choices"), f"{where}.choices", limit=MAX_CHOICES)
            if not question["choices"]:
                reader.problem(f"{where}.choices", f"a {kind}-choice question needs choices")
        elif kind == "number":
            low = reader.number(data.get("min"), f"{where}.min", low=-1e12, high=1e12)
            high = reader.number(data.get("max"), f"{where}.max", low=-1e12, high=1e12)
            if low is not None and high is not None and low > high:
                reader.problem(f"{where}.max", f"must not be below min ({low}); got {high}")
            question.update(min=low, max=high)
        else:
            question["max_length"] = reader.integer(
                data.get("max_length"), f"{where}.max_length", low=1, high=2000, default=200
            )
        extra = {"single": ("min", "max", "max_length"), "multiple": ("min", "max", "max_length")}
        extra.update(number=("choices", "max_length"), text=("choices", "min", "max"))
        for key in extra[kind]:
            if key in data:
                reader.problem(f"{where}.{key}", f"does not apply to a {kind} question")
        fields.append(question)
    return {"fields": fields}


def _practice(reader, item, path, slugs) -> dict:
    names = reader.strings(item.get("images"), f"{path}.images", limit=100, item_limit=500)
    count = reader.integer(item.get("count"), f"{path}.count", low=1, high=100)
    if names and count is not None:
        reader.problem(f"{path}.count", "give images (by file name) or count (the first ones in file order), not both")
    if not names and count is None:
        reader.problem(f"{path}.images", "name the practice images, or give count")
    return {
        "dataset": reader.text(item.get("dataset"), f"{path}.dataset", required=True, limit=100),
        "images": names,
        "count": None if names else count,
        "feedback": reader.boolean(item.get("feedback"), f"{path}.feedback", True),
        "image_seconds": reader.integer(item.get("image_seconds"), f"{path}.image_seconds", low=5, high=3600),
    }


def _annotation(reader, item, path, slugs) -> dict:
    condition = reader.text(item.get("condition"), f"{path}.condition", limit=50) or None
    if condition is not None and condition not in slugs:
        reader.problem(
            f"{path}.condition", f"{condition!r} is not one of the conditions ({', '.join(slugs) or 'none'})"
        )
    return {
        "dataset": reader.text(item.get("dataset"), f"{path}.dataset", required=True, limit=100),
        "images": reader.integer(item.get("images"), f"{path}.images", low=1, high=MAX_IMAGES_PER_STEP, required=True),
        "condition": condition,
        "image_seconds": reader.integer(item.get("image_seconds"), f"{path}.image_seconds", low=5, high=3600),
        "catch": _phase_catch(reader, item.get("catch"), f"{path}.catch"),
        "subset": _subset(reader, item.get("subset"), f"{path}.subset"),
        "per_condition": reader.integer(item.get("per_condition"), f"{path}.per_condition", low=1, high=10_000),
    }


def _subset(reader: _Reader, value, path: str) -> dict | None:
    """Read a phase's subset: the images whose metadata ``column`` has one of ``values``, or named ``images``."""
    if value is None:
        return None
    data = reader.mapping(value, path, ("column", "values", "images"))
    column = reader.text(data.get("column"), f"{path}.column", limit=100) or None
    values = reader.strings(data.get("values"), f"{path}.values", limit=1000)
    images = reader.strings(data.get("images"), f"{path}.images", limit=MAX_SUBSET_IMAGES, item_limit=500)
    if bool(column or values) == bool(images):
        reader.problem(
            path, "give column and values (the images whose metadata column holds one of the values), or images "
            "(their file names), not both"
        )  # fmt: skip
    elif (column is None) != (not values):
        reader.problem(path, "column and values go together: the metadata column, and the values to take")
    return {"column": column, "values": values, "images": images}


def _phase_catch(reader: _Reader, value, path: str) -> dict | None:
    if value is None:
        return None
    data = reader.mapping(value, path, ("count", "rate", "slots"))
    given = [key for key in ("count", "rate", "slots") if data.get(key) not in (None, [])]
    if len(given) != 1:
        reader.problem(path, "give one of count (catch images per participant), rate (of the phase's images) or slots")
    slots = []
    if data.get("slots") not in (None, []):
        if not isinstance(data["slots"], list):
            reader.problem(f"{path}.slots", "must be a list of places in the phase (2 for the second image, ...)")
        else:
            for index, slot in enumerate(data["slots"]):
                slots.append(reader.integer(slot, f"{path}.slots[{index}]", low=2, high=MAX_IMAGES_PER_STEP * 2))
            if len(set(slots)) != len(slots):
                reader.problem(f"{path}.slots", "lists a place twice")
            slots = sorted(s for s in slots if s is not None)
    return {
        "count": reader.integer(data.get("count"), f"{path}.count", low=1, high=1000),
        "rate": reader.number(data.get("rate"), f"{path}.rate", low=0.001, high=0.5),
        "slots": slots,
    }


def _finish(reader, item, path, slugs) -> dict:
    code = item.get("completion_code", PER_PARTICIPANT)
    if code != PER_PARTICIPANT:
        code = reader.text(
            code,
            f"{path}.completion_code",
            required=True,
            limit=40,
            pattern=CODE,
            hint="4 to 40 letters, digits, - or _; or per-participant",
        )
    redirect = reader.text(item.get("redirect"), f"{path}.redirect", limit=2000) or None
    if redirect:
        parts = urlsplit(redirect)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            reader.problem(
                f"{path}.redirect",
                "must be an http(s) address such as https://app.prolific.com/submissions/complete?cc={code}; "
                f"got {redirect!r}",
            )
        for field in re.findall(r"\{([^{}]*)\}", redirect):
            if field not in REDIRECT_FIELDS:
                reader.problem(
                    f"{path}.redirect",
                    f"{{{field}}} is not a value EyeTagger fills in; use "
                    + ", ".join("{" + name + "}" for name in REDIRECT_FIELDS),
                )
    return {"completion_code": code, "redirect": redirect}


_STEP_READERS = {
    "consent": _consent,
    "instructions": _instructions,
    "questionnaire": _questionnaire,
    "practice": _practice,
    "annotation": _annotation,
    "finish": _finish,
}


def _check_protocol(reader: _Reader, study: dict) -> None:
    """Check the rules that span steps: one finish, last; consent before any data; phases and conditions."""
    steps = study["steps"]
    if not steps:
        return
    kinds = [step["type"] for step in steps]
    if kinds.count("finish") != 1 or kinds[-1] != "finish":
        reader.problem("steps", "a study ends with exactly one finish step (the thank-you and completion code)")
    if kinds.count("consent") > 1:
        reader.problem("steps", "a study has at most one consent step")
    if "consent" in kinds:
        first_data = next((i for i, kind in enumerate(kinds) if kind in ("questionnaire", *IMAGE_STEPS)), len(kinds))
        if kinds.index("consent") > first_data:
            reader.problem("steps", "the consent step must come before any questionnaire, practice or annotation")
    phases = [i for i, kind in enumerate(kinds) if kind == "annotation"]
    if not phases:
        reader.problem("steps", "a study needs at least one annotation step")
    if study["assignment"]["phase_order"] == "latin-square":
        if len(phases) < 2:
            reader.problem("assignment.phase_order", "counterbalancing needs at least two annotation steps")
        elif phases != list(range(phases[0], phases[-1] + 1)):
            reader.problem(
                "assignment.phase_order", "the annotation steps must follow each other to be counterbalanced"
            )
    unfixed = [i for i in phases if steps[i]["condition"] is None]
    if study["conditions"] and unfixed and not study["assignment"]["between"]:
        reader.problem(
            "assignment.between",
            f"steps[{unfixed[0]}] names no condition, so participants need one: list the conditions they are "
            "assigned between subjects here, or give every annotation step its condition",
        )
    balanced = [i for i in phases if steps[i]["per_condition"] is not None]
    if balanced and not study["conditions"]:
        reader.problem(f"steps[{balanced[0]}].per_condition", "needs conditions: it is a target under each condition")
    catches = [i for i in phases if steps[i]["catch"]]
    if catches and study["catch"] is None:
        reader.problem(f"steps[{catches[0]}].catch", "catch images need the study's catch settings (catch.dataset)")
    for i in catches:
        catch = steps[i]["catch"]
        length = (steps[i]["images"] or 0) + len(catch["slots"])
        if catch["slots"] and catch["slots"][-1] > length:
            reader.problem(
                f"steps[{i}].catch.slots", f"places must be within the phase's {length} images and catch images"
            )


def check_answers(fields: list[dict], answers) -> tuple[dict, list[tuple[str, str]]]:
    """Return a questionnaire's answers checked against its questions, and the problems as (name, message).

    Unanswered optional questions are left out; unknown names are problems, so a typo in a
    client never passes silently.
    """
    if not isinstance(answers, dict):
        return {}, [("", "answers must be a mapping of question names to answers")]
    clean, problems = {}, []
    known = {field["name"]: field for field in fields}
    for name in answers:
        if name not in known:
            problems.append((str(name)[:50], f"There is no question {str(name)[:50]!r}"))
    for name, field in known.items():
        value = answers.get(name)
        if value is None or value == "" or value == []:
            if field["required"]:
                problems.append((name, f"Please answer: {field['label']}"))
            continue
        kind = field["type"]
        if kind == "single":
            if value not in field["choices"]:
                problems.append((name, f"Choose one of {', '.join(field['choices'])}"))
                continue
        elif kind == "multiple":
            chosen = value if isinstance(value, list) else [None]
            if any(v not in field["choices"] for v in chosen) or len(set(chosen)) != len(chosen):
                problems.append((name, f"Choose any of {', '.join(field['choices'])}, each once"))
                continue
            value = [choice for choice in field["choices"] if choice in value]
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                problems.append((name, "Give a number"))
                continue
            if (field["min"] is not None and value < field["min"]) or (
                field["max"] is not None and value > field["max"]
            ):
                problems.append((name, f"Give a number from {field['min']} to {field['max']}"))
                continue
        else:
            if not isinstance(value, str) or len(value) > field["max_length"]:
                problems.append((name, f"Give a text of at most {field['max_length']} characters"))
                continue
        clean[name] = value
    return clean, problems


def write_study(study: dict, *, fmt: str = "yaml") -> str:
    """Return the canonical form of a study as a YAML or JSON file."""
    if fmt == "json":
        return json.dumps(study, ensure_ascii=False, indent=2) + "\n"
    if fmt != "yaml":
        raise ValueError(f"format must be yaml or json; got {fmt!r}")
    return yaml.dump(study, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """YAML with Markdown texts written as blocks (``|``), so they read as they were typed."""


def _represent_text(dumper, text: str):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)
