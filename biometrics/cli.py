"""`loanctl fingerprint …`: extract, match, score a folder, benchmark and draw minutiae.

Inputs are fingerprint images (PNG, JPEG, BMP, TIFF, WSQ) or SourceAFIS CBOR
templates (files ending in ``.cbor``).  A template file named ``X.cbor`` stands
for the print ``X`` in score listings, the way the golden data names them.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

MODES = ("exact", "accurate")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".wsq")
TEMPLATE_SUFFIX = ".cbor"
# Files named FINGER_IMPRESSION.ext, as in the FVC databases (101_1.tif).
_FINGER_NAME = re.compile(r"^(?P<finger>[^_]+)_(?P<impression>[^_.]+)\.")


class FingerprintCommandError(Exception):
    """Ends a fingerprint command with a message on stderr and exit code 2."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `fingerprint` command group to the loanctl parser."""
    group = subparsers.add_parser("fingerprint", help="fingerprint templates and matching (SourceAFIS 3.18.1)")
    commands = group.add_subparsers(dest="fingerprint_command", metavar="ACTION")
    commands.required = True

    extract = commands.add_parser("extract", help="extract the minutiae template of an image")
    extract.add_argument("image", type=Path, metavar="IMAGE", help="fingerprint image (PNG, TIFF, JPEG, BMP or WSQ)")
    extract.add_argument("--dpi", type=_dpi, default=500.0, help="scan resolution (default 500)")
    extract.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.cbor")
    extract.set_defaults(run=_guarded(_extract))

    match = commands.add_parser("match", help="print the similarity score of two prints (images or .cbor templates)")
    match.add_argument("probe", type=Path, metavar="PROBE", help="the probe: an image or a template (.cbor)")
    match.add_argument("candidate", type=Path, metavar="CANDIDATE", help="the candidate: an image or a template (.cbor)")
    match.add_argument("--dpi", type=_dpi, default=500.0, help="scan resolution of images (default 500)")
    match.set_defaults(run=_guarded(_match))

    scores = commands.add_parser("scores", help="score every ordered pair of prints in a folder (TSV)")
    scores.add_argument("folder", type=Path, metavar="DIR", help="folder of images or templates; every ordered pair is scored")
    scores.add_argument("--dpi", type=_dpi, default=500.0, help="scan resolution of images (default 500)")
    scores.add_argument("-o", "--output", type=Path, required=True, metavar="SCORES.tsv")
    scores.add_argument(
        "--mode", choices=MODES, default="exact",
        help="exact: SourceAFIS 3.18.1 bit for bit (default); accurate: the accuracy mode "
             "(Gabor-enhanced images, its own template version); templates must be of the chosen mode",
    )
    scores.set_defaults(run=_guarded(_scores))

    bench = commands.add_parser("bench", help="speed and accuracy on a folder of FINGER_IMPRESSION.ext prints")
    bench.add_argument("folder", type=Path, metavar="DIR", help="folder of images named FINGER_IMPRESSION (e.g. 101_1.tif)")
    bench.add_argument("--dpi", type=_dpi, default=500.0, help="scan resolution of images (default 500)")
    bench.set_defaults(run=_guarded(_bench))

    show = commands.add_parser("show", help="draw the minutiae of an image into a PNG")
    show.add_argument("image", type=Path, metavar="IMAGE", help="fingerprint image to draw the minutiae on")
    show.add_argument("--dpi", type=_dpi, default=500.0, help="scan resolution (default 500)")
    show.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.png")
    show.set_defaults(run=_guarded(_show))


def _dpi(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"dpi must be a number, got {text!r}") from None
    if not math.isfinite(value) or not 50 <= value <= 5000:
        raise argparse.ArgumentTypeError(f"dpi must be between 50 and 5000, got {text}")
    return value


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turns every failure into one line on stderr and a non-zero exit code."""

    def run(args: argparse.Namespace) -> int:
        from .sourceafis.image import ImageError
        from .sourceafis.template import TemplateError

        try:
            return command(args)
        except (FingerprintCommandError, ImageError, TemplateError) as error:
            print(f"loanctl fingerprint: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            detail = error.strerror or str(error)
            where = f": {error.filename}" if error.filename else ""
            print(f"loanctl fingerprint: {detail}{where}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        except Exception as error:  # noqa: BLE001 - the CLI promises no tracebacks
            print(f"loanctl fingerprint: unexpected error ({type(error).__name__}): {error}", file=sys.stderr)
            return 70

    return run


# --- inputs -----------------------------------------------------------------


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise FingerprintCommandError(f"{path} is a folder, expected a file")
    return path.read_bytes()


def _is_template(path: Path) -> bool:
    return path.name.lower().endswith(TEMPLATE_SUFFIX)


def _print_name(path: Path) -> str:
    return path.name[: -len(TEMPLATE_SUFFIX)] if _is_template(path) else path.name


def _load(path: Path, dpi: float, mode: str = "exact"):
    """A template from a .cbor file or extracted from an image, in the given mode; a template of
    the other mode is refused (TemplateVersionError names both)."""
    from .sourceafis.template import Template, TemplateError

    data = _read(path)
    if _is_template(path):
        try:
            if mode == "accurate":
                from .accurate import read_template

                return read_template(data)
            return Template.from_cbor(data)
        except TemplateError as error:
            raise FingerprintCommandError(f"{path}: {error}") from None
    return _extract_image(path, data, dpi, mode)


def _extract_image(path: Path, data: bytes, dpi: float, mode: str = "exact"):
    from .sourceafis.image import ImageError, decode_image

    if mode == "accurate":
        from .accurate import extract
    else:
        from .sourceafis.extractor import extract

    try:
        pixels = decode_image(data)
    except ImageError as error:
        raise FingerprintCommandError(f"{path}: {error}") from None
    try:
        return extract(pixels, dpi)
    except (ValueError, MemoryError) as error:
        raise FingerprintCommandError(f"{path}: cannot extract minutiae: {error}") from None


def _prints(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FingerprintCommandError(f"{folder} is not a folder")
    found = sorted(
        (p for p in folder.iterdir() if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or _is_template(p))),
        key=lambda p: _print_name(p),
    )
    if not found:
        raise FingerprintCommandError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}) or .cbor templates")
    names = [_print_name(p) for p in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FingerprintCommandError(f"{folder} holds both an image and a template for {', '.join(duplicates)}")
    return found


# --- commands ---------------------------------------------------------------


def _extract(args: argparse.Namespace) -> int:
    template = _extract_image(args.image, _read(args.image), args.dpi)
    args.output.write_bytes(template.to_cbor())
    print(f"{len(template.minutiae)} minutiae ({template.width}×{template.height} px at 500 dpi) → {args.output}")
    return 0


def _match(args: argparse.Namespace) -> int:
    from .sourceafis.matcher import Matcher

    probe = _load(args.probe, args.dpi)
    candidate = _load(args.candidate, args.dpi)
    print(repr(Matcher(probe).match(candidate)))
    return 0


def _scores(args: argparse.Namespace) -> int:
    from .sourceafis.edges import SearchTemplate
    from .sourceafis.gallery import Gallery
    from .sourceafis.matcher import Matcher

    paths = _prints(args.folder)
    progress = ProgressBar("extracting", len(paths))
    templates = []
    for path in paths:
        templates.append(_load(path, args.dpi, args.mode))
        progress.advance()
    progress.close()
    names = [_print_name(p) for p in paths]
    if args.mode == "accurate":
        from .accurate import AccurateMatcher

        def score_all(template):  # both minutia sets, the higher score (the mode's matcher)
            matcher = AccurateMatcher(template)
            return [matcher.match(candidate) for candidate in templates]
    else:
        templates = [SearchTemplate.build(t) for t in templates]
        gallery = Gallery(templates)

        def score_all(template):
            return Matcher(template).match_gallery(gallery).tolist()
    rows = []
    progress = ProgressBar("matching", len(templates))
    for name, template in zip(names, templates):
        scores = score_all(template)
        rows.extend(f"{name}\t{candidate}\t{score!r}" for candidate, score in zip(names, scores))
        progress.advance()
    progress.close()
    args.output.write_text("probe\tcandidate\tscore\n" + "".join(row + "\n" for row in rows))
    print(f"{len(rows)} scores of {len(names)} prints → {args.output}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .sourceafis.benchmark import run_benchmark

    paths = [p for p in _prints(args.folder) if not _is_template(p)]
    fingers = []
    for path in paths:
        found = _FINGER_NAME.match(path.name)
        if not found:
            raise FingerprintCommandError(f"{path.name} is not named FINGER_IMPRESSION.ext (like 101_1.tif)")
        fingers.append(found["finger"])
    if len(set(fingers)) < 2 or len(fingers) == len(set(fingers)):
        raise FingerprintCommandError("bench needs at least two fingers and two impressions of some finger")
    from .sourceafis.extractor import extract
    from .sourceafis.image import decode_image

    images = [(path, _read(path)) for path in paths]
    progress = ProgressBar("benchmark", 1)

    def extract_one(data: bytes):
        return extract(decode_image(data), args.dpi)

    report = run_benchmark(images, fingers, extract_one, progress=progress.update)
    progress.close()
    for line in report.lines():
        print(line)
    return 0


def _show(args: argparse.Namespace) -> int:
    from .sourceafis.drawing import draw_minutiae
    from .sourceafis.extractor import extract
    from .sourceafis.image import ImageError, decode_image

    data = _read(args.image)
    try:
        pixels = decode_image(data)
    except ImageError as error:
        raise FingerprintCommandError(f"{args.image}: {error}") from None
    template = extract(pixels, args.dpi)
    draw_minutiae(pixels, template).save(args.output, format="PNG")
    print(f"{len(template.minutiae)} minutiae drawn → {args.output}")
    return 0


# --- progress ---------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on stderr (redrawn in place on a terminal, a final line otherwise)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None, lines: int = 0) -> None:
        """`lines`: off a terminal, also write a line at every 1/lines of the way (and at each new
        label), so work of many minutes shows progress in a log too."""
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.lines = lines
        self._interactive = getattr(self.stream, "isatty", lambda: False)()
        self._last_draw = 0.0
        self._started = time.monotonic()
        self._written: tuple[str, int] | None = None
        self._draw(force=True)

    def advance(self, steps: int = 1) -> None:
        self.done = min(self.total, self.done + steps)
        self._draw()

    def update(self, label: str, done: int, total: int) -> None:
        self.label, self.done, self.total = label, min(done, max(total, 1)), max(total, 1)
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        # A terminal is redrawn at most every 0.1 s; a log with `lines` gets every line it is due.
        if not force and now - self._last_draw < 0.1 and self.done < self.total and (self._interactive or not self.lines):
            return
        self._last_draw = now
        filled = self.WIDTH * self.done // self.total
        line = f"{self.label:<12} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total}"
        if self._interactive:
            self.stream.write("\r" + line)
        elif self.lines:
            mark = (self.label, self.done * self.lines // self.total)
            if mark != self._written:
                self._written = mark
                self.stream.write(f"{line} ({time.monotonic() - self._started:.0f} s)\n")
        elif self.done >= self.total:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._interactive:
            self.stream.write("\n")
            self.stream.flush()
