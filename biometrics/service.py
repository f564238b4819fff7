"""The fingerprint service's use cases: enroll, verify (1:1), identify (1:N).

Each call decodes and extracts the capture in the process pool, with no database
transaction open (SQLite writers hold the lock for the whole transaction), then writes the
capture and the verification record in one short unit of work. A capture is refused before
anything else is done if its bytes were seen before (a replay) and after extraction if it is
too poor to use; refused verifications are recorded too, with their reason.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Config
from core.db import Database
from core.errors import Conflict, InvalidInput, ServiceError
from core.orm import utcnow

from . import engine, modes
from .engine import Analysis, CaptureError, MatchingPool
from .identifyindex import IdentifyIndex, IncompleteSearch, ShardError
from .keys import MasterKey, new_data_key, open_sealed, seal
from .keyring import Keyring
from .quality import QualityPolicy, assess
from .tables import Capture, SubjectKey, Verification

SUBJECT_KINDS = ("customer", "user")
PURPOSES = ("enrollment", "disbursement", "post_loan", "step_up", "verification")
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMPRESSIONS = 3
# What fingerprint scanners produce (FBI/ISO capture at 500 or 1000 ppi, some 250-ppi sensors).
DPI_MIN, DPI_MAX = 250, 1200
log = logging.getLogger(__name__)
_SUBJECT = re.compile(r"^(customer|user):([1-9][0-9]{0,9})$")


@dataclass(frozen=True)
class Subject:
    """Whose print: an opaque reference, never a name."""

    kind: str
    id: int

    @classmethod
    def parse(cls, text: str) -> "Subject":
        found = _SUBJECT.match(str(text))
        if not found:
            raise InvalidInput(f"subject must be customer:<id> or user:<id>, got {text!r}", details={"subject": "pattern"})
        return cls(found.group(1), int(found.group(2)))

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Settings:
    threshold: float = 40.0
    keep_images: bool = False
    quality: QualityPolicy = field(default_factory=QualityPolicy)
    # The deployment's template mode (biometrics.modes): what enrollments are made in.
    mode: str = "exact"

    def __post_init__(self) -> None:
        modes.version_of(self.mode)

    @property
    def version(self) -> str:
        return modes.version_of(self.mode)

    @classmethod
    def from_config(cls, config: Config) -> "Settings":
        return cls(config.fingerprint_threshold, config.keep_fingerprint_images,
                   QualityPolicy(config.fingerprint_min_minutiae, config.fingerprint_min_area_mm2),
                   config.fingerprint_mode)


@dataclass(frozen=True)
class CaptureInput:
    """A file from the bank's scanner software (PNG, BMP, TIFF, WSQ…) and its resolution."""

    image: bytes
    dpi: float = 500.0
    device: str = ""

    def __post_init__(self) -> None:
        if not self.image:
            raise InvalidInput("the capture is empty", details={"image": "required"})
        if len(self.image) > MAX_IMAGE_BYTES:
            raise InvalidInput(f"the capture is larger than {MAX_IMAGE_BYTES} bytes", details={"image": "size"})
        if not DPI_MIN <= self.dpi <= DPI_MAX:
            raise InvalidInput(f"dpi must be {DPI_MIN}..{DPI_MAX}, got {self.dpi}", details={"dpi": "range"})

    @classmethod
    def from_json(cls, body: dict) -> "CaptureInput":
        try:
            image = base64.b64decode(str(body.get("image_base64", "")), validate=True)
        except ValueError:
            raise InvalidInput("image_base64 is not base64", details={"image_base64": "base64"}) from None
        dpi = body.get("dpi")
        if dpi is None:
            dpi = 500.0
        elif isinstance(dpi, bool) or not isinstance(dpi, (int, float)):
            raise InvalidInput("dpi must be a number", details={"dpi": "type"})
        elif not DPI_MIN <= dpi <= DPI_MAX:  # before float(): a 400-digit int does not convert
            raise InvalidInput(f"dpi must be {DPI_MIN}..{DPI_MAX}, got {dpi}", details={"dpi": "range"})
        return cls(image, float(dpi), str(body.get("device") or "")[:100])

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.image).hexdigest()


def _check_finger(finger: int | None, *, required: bool) -> int:
    if finger is None or finger == 0:
        if required:
            raise InvalidInput("finger (1..10, ISO position: 1 right thumb … 10 left little) is required",
                               details={"finger": "required"})
        return 0
    if not 1 <= int(finger) <= 10:
        raise InvalidInput(f"finger must be 1..10, got {finger}", details={"finger": "range"})
    return int(finger)


class IdentifyUnavailable(ServiceError):
    """The 1:N search could not cover every enrolled print (a shard did not answer): no
    answer rather than a partial one."""

    status = 503
    code = "identify_incomplete"


class BiometricService:
    """The running service: database, keys, process pool, settings, and the 1:N index
    (biometrics.identifyindex: sharded galleries derived from the database; without one given,
    in-process shards in a temporary folder)."""

    def __init__(self, db: Database, keyring: Keyring, pool: MatchingPool, settings: Settings,
                 index: IdentifyIndex | None = None) -> None:
        self.db = db
        self.keyring = keyring
        self.pool = pool
        self.settings = settings
        self.index = index if index is not None else IdentifyIndex(None, keyring.current)
        # Whether every enrolled template is of the deployment's version (see verify); None until
        # the first verification reads it.  Enrollment adds only that version, so it stays true
        # once true (a migration between modes starts with a restart in the new mode).
        self._one_version: bool | None = None

    async def close(self) -> None:
        """Ends the index's shards (its actors on a cluster); the database and pool are the caller's."""
        await self.index.close()

    # --- keys and sealing ---------------------------------------------------------------

    async def _data_key(self, session: AsyncSession, subject: Subject, *, create: bool) -> bytes | None:
        row = await session.get(SubjectKey, (subject.kind, subject.id))
        if row is None:
            if not create:
                return None
            data_key = new_data_key()
            master = self.keyring.current
            session.add(SubjectKey(subject_kind=subject.kind, subject_id=subject.id,
                                   master_key_id=master.key_id, wrapped_key=master.wrap(data_key, str(subject))))
            await session.flush()
            return data_key
        return self.keyring.get(row.master_key_id).unwrap(row.wrapped_key, str(subject))

    @staticmethod
    def _context(what: str, subject: Subject, sha256: str) -> str:
        return f"{what}:{subject}:{sha256}"

    async def templates_of(self, session: AsyncSession, captures: Iterable[Capture]) -> dict[int, bytes]:
        """Decrypted templates by capture id."""
        keys: dict[tuple[str, int], bytes | None] = {}
        result = {}
        for capture in captures:
            subject = Subject(capture.subject_kind, capture.subject_id)
            if (subject.kind, subject.id) not in keys:
                keys[(subject.kind, subject.id)] = await self._data_key(session, subject, create=False)
            key = keys[(subject.kind, subject.id)]
            if key is None:
                continue
            result[capture.id] = open_sealed(key, capture.template_sealed,
                                             self._context("template", subject, capture.sha256))
        return result

    async def image_of(self, session: AsyncSession, capture: Capture) -> bytes | None:
        if capture.image_sealed is None:
            # A template migrated to another mode keeps its image on the capture's first row.
            capture = (await session.execute(select(Capture).where(
                Capture.sha256 == capture.sha256, Capture.image_sealed.is_not(None)))).scalars().first()
            if capture is None:
                return None
        subject = Subject(capture.subject_kind, capture.subject_id)
        key = await self._data_key(session, subject, create=False)
        return open_sealed(key, capture.image_sealed, self._context("image", subject, capture.sha256))

    # --- captures -----------------------------------------------------------------------

    async def _is_replay(self, sha256: str) -> bool:
        async with self.db.unit_of_work(write=False) as session:
            return (await session.execute(select(Capture.id).where(Capture.sha256 == sha256))).first() is not None

    async def _analyse(self, capture: CaptureInput, mode: str | None = None) -> Analysis:
        """The capture's template in the given mode (the deployment's by default)."""
        try:
            analysis = await self.pool.analyse(capture.image, capture.dpi, mode or self.settings.mode)
        except CaptureError as error:
            raise InvalidInput(str(error), code="capture_unreadable") from None
        return analysis

    def _quality_refusal(self, analysis: Analysis) -> tuple[Any, str | None]:
        report = assess(analysis.positions, self.settings.quality)
        return report, report.refusal

    async def _store_capture(self, session: AsyncSession, subject: Subject, capture: CaptureInput,
                             analysis: Analysis, report, *, purpose: str, finger: int, loan_id: int | None,
                             enrolled: bool, requested_by: str) -> Capture:
        key = await self._data_key(session, subject, create=True)
        sha = capture.sha256
        row = Capture(
            sha256=sha, template_version=analysis.version, subject_kind=subject.kind, subject_id=subject.id, finger=finger, purpose=purpose,
            loan_id=loan_id, enrolled=enrolled, minutiae=report.minutiae, area_mm2=report.area_mm2,
            dpi=capture.dpi, size=len(capture.image),
            template_sealed=seal(key, analysis.template, self._context("template", subject, sha)),
            image_sealed=(seal(key, capture.image, self._context("image", subject, sha))
                          if self.settings.keep_images else None),
            device=capture.device, captured_by=requested_by[:64], captured_at=utcnow())
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict("this capture's bytes were already submitted: refused as a replay; capture again",
                           code="capture_replay") from None
        return row

    async def _refuse_replay(self, capture: CaptureInput) -> None:
        if await self._is_replay(capture.sha256):
            raise self._replay(capture)

    @staticmethod
    def _replay(capture: CaptureInput) -> Conflict:
        return Conflict("this capture's bytes were already submitted: refused as a replay; capture again",
                        code="capture_replay", details={"sha256": capture.sha256})

    # --- use cases ------------------------------------------------------------------------

    async def enroll(self, subject: Subject, finger: int, capture: CaptureInput, *, requested_by: str,
                     loan_id: int | None = None, search_duplicates: bool = False) -> dict[str, Any]:
        """Keep the finger's template as one of the subject's references (for the loan, when
        given); up to MAX_IMPRESSIONS impressions per finger are kept, the newest."""
        finger = _check_finger(finger, required=True)
        await self._refuse_replay(capture)
        analysis = await self._analyse(capture)
        report, refusal = self._quality_refusal(analysis)
        if refusal:
            raise InvalidInput(refusal, code="capture_quality",
                               details={"minutiae": report.minutiae, "area_mm2": report.area_mm2})
        # The duplicate search runs before the write (the new print is the subject's own, left out
        # of the answer anyway): a search that cannot answer (503) leaves nothing stored, so the
        # enrollment is simply tried again.
        duplicates = (await self._identify_all(capture, analysis, kind=subject.kind, exclude=subject)
                      if search_duplicates else None)
        async with self.db.unit_of_work() as session:
            same_finger = (await session.execute(select(Capture.id).where(
                Capture.subject_kind == subject.kind, Capture.subject_id == subject.id, Capture.finger == finger,
                Capture.enrolled, Capture.template_version == analysis.version,
                (Capture.loan_id == loan_id) if loan_id else Capture.loan_id.is_(None))
                .order_by(Capture.id.desc()))).scalars().all()
            # Several impressions of a finger match better than one; the oldest of this template
            # version retire (another version's stay until the person is re-enrolled in full).
            retired = same_finger[MAX_IMPRESSIONS - 1:]
            if retired:
                await session.execute(update(Capture).where(Capture.id.in_(retired)).values(enrolled=False))
            row = await self._store_capture(session, subject, capture, analysis, report, purpose="enrollment",
                                            finger=finger, loan_id=loan_id, enrolled=True, requested_by=requested_by)
        result = {"capture_id": row.id, "subject": str(subject), "finger": finger, "sha256": row.sha256,
                  "minutiae": report.minutiae, "area_mm2": report.area_mm2, "loan_id": loan_id,
                  "template_version": analysis.version, "mode": analysis.mode}
        if duplicates is not None:
            result["duplicates"] = duplicates
        return result

    async def verify(self, subject: Subject, capture: CaptureInput, *, requested_by: str, purpose: str,
                     finger: int | None = None, loan_id: int | None = None,
                     enrollment_loan_id: int | None = None, render: bool = False) -> dict[str, Any]:
        """Match a fresh capture against the subject's enrollment (of the given loan, and finger
        if given; the best-scoring enrolled finger otherwise). Recorded whatever the outcome."""
        if purpose not in PURPOSES or purpose == "enrollment":
            raise InvalidInput(f"purpose must be one of {', '.join(p for p in PURPOSES if p != 'enrollment')}",
                               details={"purpose": "enum"})
        finger = _check_finger(finger, required=False)
        threshold = self.settings.threshold

        async def refuse(error: Exception, reason: str) -> None:
            async with self.db.unit_of_work() as session:
                session.add(Verification(requested_by=requested_by[:64], subject_kind=subject.kind,
                                         subject_id=subject.id, finger=finger, purpose=purpose, loan_id=loan_id,
                                         threshold=threshold, matched=False, reason=reason[:400],
                                         device=capture.device, verified_at=utcnow()))
            raise error

        # While every enrolled template is of the deployment's version (no migration between modes
        # under way), the capture is analysed in that mode on a pool worker while the replay check
        # and the enrolled references (decrypted) are read, so the read costs no time of its own;
        # otherwise (and on this process's first verification, which finds out) the read comes
        # first and picks the mode, so no extraction is wasted.  The few 1:1 scores are computed
        # here.  Refusals keep their order: replay, unreadable, quality, not enrolled (a replay's
        # analysis is discarded unread).
        analysing = (asyncio.ensure_future(self.pool.analyse(capture.image, capture.dpi, self.settings.mode))
                     if self._one_version else None)
        try:
            async with self.db.unit_of_work(write=False) as session:
                if (await session.execute(select(Capture.id).where(Capture.sha256 == capture.sha256))).first():
                    raise self._replay(capture)
                if self._one_version is None:
                    self._one_version = not (await session.execute(select(Capture.id).where(
                        Capture.enrolled, Capture.template_version != self.settings.version).limit(1))).first()
                query = select(Capture).where(Capture.subject_kind == subject.kind, Capture.subject_id == subject.id,
                                              Capture.enrolled)
                if enrollment_loan_id is not None:
                    query = query.where(Capture.loan_id == enrollment_loan_id)
                if finger:
                    query = query.where(Capture.finger == finger)
                enrolled = list((await session.execute(query.order_by(Capture.id))).scalars())
                templates = await self.templates_of(session, enrolled)
            enrolled = self._comparable([c for c in enrolled if c.id in templates])
            # The probe is extracted once per mode its references were made in (the deployment's
            # first), and compared only with references of that mode: a person enrolled in one
            # mode costs one extraction, as before.
            needed = sorted({modes.mode_of(c.template_version) for c in enrolled} or {self.settings.mode},
                            key=lambda m: m != self.settings.mode)
            if analysing is None:
                analysis = await self._analyse(capture, needed[0])
            else:
                try:
                    analysis = await analysing
                except CaptureError as error:
                    raise InvalidInput(str(error), code="capture_unreadable") from None
        except BaseException as error:
            if analysing is not None:
                analysing.cancel()
                await asyncio.gather(analysing, return_exceptions=True)
            if isinstance(error, (Conflict, InvalidInput)):
                await refuse(error, error.message)
            raise
        analyses = {analysis.mode: analysis}
        if needed[0] != analysis.mode:  # a migration began since this process found one version
            try:
                analysis = analyses[needed[0]] = await self._analyse(capture, needed[0])
            except InvalidInput as error:
                await refuse(error, error.message)
        report, refusal = self._quality_refusal(analysis)
        if refusal:
            await refuse(InvalidInput(refusal, code="capture_quality",
                                      details={"minutiae": report.minutiae, "area_mm2": report.area_mm2}), refusal)
        if not enrolled:
            where = f" for loan {enrollment_loan_id}" if enrollment_loan_id else ""
            await refuse(Conflict(f"{subject} has no enrolled print{' of finger %d' % finger if finger else ''}{where}",
                                  code="not_enrolled"), "not enrolled")
        scores: dict[int, float] = {}
        for mode in needed:
            if mode not in analyses:
                try:
                    analyses[mode] = await self._analyse(capture, mode)
                except InvalidInput as error:
                    await refuse(error, error.message)
            group = [c for c in enrolled if modes.mode_of(c.template_version) == mode]
            # A handful of 1:1 comparisons (at most three impressions per enrolled finger): under a
            # millisecond each, cheaper here than another trip to the pool.
            scores.update(zip((c.id for c in group), await asyncio.to_thread(
                engine.scores, analyses[mode].template, [templates[c.id] for c in group])))
        reference = max(enrolled, key=lambda c: scores[c.id])
        score = round(scores[reference.id], 3)
        if modes.mode_of(reference.template_version) != analysis.mode:
            analysis = analyses[modes.mode_of(reference.template_version)]
            report = assess(analysis.positions, self.settings.quality)
        matched = score >= threshold
        reason = "" if matched else f"score {score:.1f} is below the threshold {threshold:g}"
        async with self.db.unit_of_work() as session:
            row = await self._store_capture(session, subject, capture, analysis, report, purpose=purpose,
                                            finger=finger or reference.finger, loan_id=loan_id, enrolled=False,
                                            requested_by=requested_by)
            record = Verification(requested_by=requested_by[:64], subject_kind=subject.kind, subject_id=subject.id,
                                  finger=finger or reference.finger, purpose=purpose, loan_id=loan_id,
                                  capture_id=row.id, enrollment_id=reference.id, score=score,
                                  template_version=reference.template_version, threshold=threshold,
                                  matched=matched, reason=reason, device=capture.device, verified_at=utcnow())
            session.add(record)
            await session.flush()
        result = {"verification_id": record.id, "capture_id": row.id, "enrollment_id": reference.id,
                  "subject": str(subject), "finger": record.finger, "score": score, "threshold": threshold,
                  "matched": matched, "reason": reason, "sha256": row.sha256, "minutiae": report.minutiae,
                  "enrolled_minutiae": reference.minutiae, "template_version": reference.template_version,
                  "mode": analysis.mode,
                  # Matched through a template of a mode the deployment no longer enrolls in.
                  "reenroll": reference.template_version != self.settings.version}
        if render:
            result["capture_png"] = base64.b64encode(
                await self.pool.render(analysis.template, capture.image)).decode()
            async with self.db.unit_of_work(write=False) as session:
                image = await self.image_of(session, reference)
            result["enrollment_png"] = base64.b64encode(
                await self.pool.render(templates[reference.id], image)).decode()
        return result

    def _comparable(self, enrolled: list[Capture]) -> list[Capture]:
        """The references a probe is compared with: of each finger, its templates of the
        deployment's version when it has any, else those of the version(s) it has (a person not
        yet re-enrolled after the deployment changed mode). Versions no mode here reads are left out."""
        readable = [c for c in enrolled if modes.readable(c.template_version)]
        current = {c.finger for c in readable if c.template_version == self.settings.version}
        return [c for c in readable if c.finger not in current or c.template_version == self.settings.version]

    async def _identify_all(self, capture: CaptureInput, analysis: Analysis, *, kind: str,
                            exclude: Subject | None = None) -> list[dict[str, Any]]:
        """1:N over every template version enrolled for the kind: each version's gallery is searched
        with the probe extracted in that version's mode, never across; hits merged, best first."""
        async with self.db.unit_of_work(write=False) as session:
            versions = (await session.execute(select(Capture.template_version).where(
                Capture.subject_kind == kind, Capture.enrolled).distinct())).scalars().all()
        analyses = {analysis.mode: analysis}
        hits: list[dict[str, Any]] = []
        for version in sorted(v for v in versions if modes.readable(v)):
            mode = modes.mode_of(version)
            if mode not in analyses:
                analyses[mode] = await self._analyse(capture, mode)
            hits += await self.identify_template(analyses[mode].template, kind=kind, exclude=exclude)
        return sorted(hits, key=lambda h: (-h["score"], h["capture_id"]))

    async def identify_template(self, template: bytes, *, kind: str = "customer",
                                exclude: Subject | None = None) -> list[dict[str, Any]]:
        """1:N over every enrolled print of the kind whose template is of the probe's version:
        the ones at or above the threshold, best first (ties: lower capture id).  The search runs
        on the sharded index, reconciled first with the captures enrolled now (read here), so it
        covers every one of them; a shard that cannot answer is IdentifyUnavailable (503)."""
        version = modes.template_version(template)
        columns = (Capture.id, Capture.subject_kind, Capture.subject_id, Capture.finger, Capture.loan_id)
        async with self.db.unit_of_work(write=False) as session:
            rows = {row.id: row for row in (await session.execute(select(*columns).where(
                Capture.subject_kind == kind, Capture.enrolled, Capture.template_version == version)))}
        if not rows:
            return []
        try:
            ranked = await self.index.search(kind, version, template, self.settings.threshold, rows,
                                             self._enrolled_templates)
        except (IncompleteSearch, ShardError) as error:
            log.warning("identify over the %s %s gallery failed: %s", kind, version, error)
            raise IdentifyUnavailable("the fingerprint search could not cover every enrolled print just now; "
                                      "try again shortly") from None
        hits = [{"subject": f"{rows[i].subject_kind}:{rows[i].subject_id}", "capture_id": i,
                 "finger": rows[i].finger, "loan_id": rows[i].loan_id, "score": round(s, 3),
                 "template_version": version} for i, s in ranked]
        # The gallery holds the whole enrolled set, so one subject's search does not rebuild it.
        return [h for h in hits if exclude is None or h["subject"] != str(exclude)]

    async def _enrolled_templates(self, ids: list[int]) -> dict[int, bytes]:
        """Decrypted templates of these captures, if still enrolled (the index's reconcile)."""
        found: dict[int, bytes] = {}
        async with self.db.unit_of_work(write=False) as session:
            for first in range(0, len(ids), 1000):  # bound the statement's parameters
                captures = (await session.execute(select(Capture).where(
                    Capture.id.in_(ids[first:first + 1000]), Capture.enrolled))).scalars()
                found.update(await self.templates_of(session, captures))
        return found

    async def reconcile_index(self) -> int:
        """Brings every gallery of the index up to the enrolled prints (run in the background at
        start, so a crash between an enrollment's commit and its store append heals and the
        first search does not wait); returns the captures covered."""
        async with self.db.unit_of_work(write=False) as session:
            rows = (await session.execute(select(Capture.id, Capture.subject_kind, Capture.template_version)
                                          .where(Capture.enrolled))).all()
        groups: dict[tuple[str, str], set[int]] = {}
        for row in rows:
            if row.subject_kind in SUBJECT_KINDS and modes.readable(row.template_version):
                groups.setdefault((row.subject_kind, row.template_version), set()).add(row.id)
        for (kind, version), ids in sorted(groups.items()):
            await self.index.reconcile(kind, version, ids, self._enrolled_templates)
        return sum(len(ids) for ids in groups.values())

    async def identify(self, capture: CaptureInput, *, kind: str = "customer") -> dict[str, Any]:
        if kind not in SUBJECT_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(SUBJECT_KINDS)}", details={"kind": "enum"})
        analysis = await self._analyse(capture)
        report, refusal = self._quality_refusal(analysis)
        if refusal:
            raise InvalidInput(refusal, code="capture_quality")
        return {"threshold": self.settings.threshold,
                "candidates": await self._identify_all(capture, analysis, kind=kind)}

    async def enrolled(self, subject: Subject, *, loan_id: int | None = None) -> list[dict[str, Any]]:
        """The subject's current enrollments (no template): finger, minutiae, when."""
        async with self.db.unit_of_work(write=False) as session:
            query = select(Capture).where(Capture.subject_kind == subject.kind, Capture.subject_id == subject.id,
                                          Capture.enrolled)
            query = query.where(Capture.loan_id == loan_id) if loan_id else query.where(Capture.loan_id.is_(None))
            rows = list((await session.execute(query.order_by(Capture.finger, Capture.id))).scalars())
        current = {c.finger for c in rows if c.template_version == self.settings.version}
        # A finger with no template of the deployment's mode is still verified through its older
        # ones; the desk shows it to be enrolled again (or `loanctl biometrics migrate-templates`).
        return [{"capture_id": c.id, "finger": c.finger, "minutiae": c.minutiae, "area_mm2": c.area_mm2,
                 "captured_at": c.captured_at.isoformat(), "sha256": c.sha256,
                 "template_version": c.template_version,
                 "mode": modes.mode_of(c.template_version) if modes.readable(c.template_version) else "",
                 "reenroll": c.finger not in current} for c in rows]

    async def migrate_templates(self, *, operator: str) -> dict[str, Any]:
        """Add a template of the deployment's mode to every enrolled capture that lacks one, made
        from the capture's kept image; both versions stay enrolled. Captures whose image was not
        kept (or is now too poor for the mode) wait for the person to be re-enrolled, and the
        desk shows them. Each capture is one transaction with its audit record."""
        from core import audit

        version = self.settings.version
        async with self.db.unit_of_work(write=False) as session:
            done = set((await session.execute(select(Capture.sha256).where(
                Capture.template_version == version))).scalars())
            pending = [c for c in (await session.execute(select(Capture).where(
                Capture.enrolled, Capture.template_version != version).order_by(Capture.id))).scalars()
                if c.sha256 not in done]
        migrated, without_image, too_poor = [], [], []
        for old in pending:
            async with self.db.unit_of_work(write=False) as session:
                image = await self.image_of(session, old)
            if image is None:
                without_image.append(old.id)
                continue
            subject = Subject(old.subject_kind, old.subject_id)
            try:
                analysis = await self._analyse(CaptureInput(image, old.dpi, old.device), self.settings.mode)
            except InvalidInput:
                too_poor.append(old.id)
                continue
            report, refusal = self._quality_refusal(analysis)
            if refusal:
                too_poor.append(old.id)
                continue
            async with self.db.unit_of_work() as session:
                key = await self._data_key(session, subject, create=False)
                row = Capture(
                    sha256=old.sha256, template_version=version, subject_kind=old.subject_kind,
                    subject_id=old.subject_id, finger=old.finger, purpose=old.purpose, loan_id=old.loan_id,
                    enrolled=True, minutiae=report.minutiae, area_mm2=report.area_mm2, dpi=old.dpi, size=old.size,
                    template_sealed=seal(key, analysis.template, self._context("template", subject, old.sha256)),
                    image_sealed=None, device=old.device, captured_by=old.captured_by,
                    captured_at=old.captured_at)
                session.add(row)
                await session.flush()
                await audit.append(session, audit.Actor.system(operator[:64] or "console"),
                                   "biometrics.migrate_template", subject.kind, subject.id,
                                   {"from_capture": old.id, "capture_id": row.id, "finger": old.finger,
                                    "from_version": old.template_version, "template_version": version})
            migrated.append(row.id)
        return {"template_version": version, "migrated": len(migrated), "without_image": len(without_image),
                "too_poor": len(too_poor), "captures_to_reenroll": without_image + too_poor}

    async def verification(self, verification_id: int) -> Verification | None:
        async with self.db.unit_of_work(write=False) as session:
            return await session.get(Verification, verification_id)


async def rotate_keys(session: AsyncSession, keyring: Keyring, new_master: MasterKey) -> int:
    """Re-encrypt every subject's data under a fresh data key wrapped by the new master key.
    Returns the number of subjects. Runs in one transaction: all or nothing."""
    subjects = list((await session.execute(select(SubjectKey))).scalars())
    for row in subjects:
        subject = Subject(row.subject_kind, row.subject_id)
        old_key = keyring.get(row.master_key_id).unwrap(row.wrapped_key, str(subject))
        fresh = new_data_key()
        captures = (await session.execute(select(Capture).where(
            Capture.subject_kind == subject.kind, Capture.subject_id == subject.id))).scalars()
        for capture in captures:
            for column, what in (("template_sealed", "template"), ("image_sealed", "image")):
                sealed = getattr(capture, column)
                if sealed is None:
                    continue
                context = BiometricService._context(what, subject, capture.sha256)
                setattr(capture, column, seal(fresh, open_sealed(old_key, sealed, context), context))
        row.master_key_id = new_master.key_id
        row.wrapped_key = new_master.wrap(fresh, str(subject))
    await session.flush()
    return len(subjects)
