"""Import a hospital's FHIR R4 history: bundles (transaction or collection), NDJSON (bulk
export) and folders of them; each resource validated (``fhir.resources`` R4B models), mapped to
its patient's wallet through the hospital's patient map, and published as one encrypted record
per resource in Merkle batches per category.

Resumable and exactly-once: an import journal (``<workspace>/imports/journal.jsonl``) records,
for each batch, its id and the keys of its resources (``file#entry#sha256``) before publishing
(``intent``) and after anchoring (``done``). A rerun skips resources already done and completes
an interrupted batch under the same batch id (``Provider.publish_batch`` is idempotent by id),
so nothing is anchored twice and nothing is lost.

Pipelined: with a worker pool, a batch's members are sealed in the pool as they are read
(``Provider.open_batch``, a chunk at a time), while one thread group-commits and anchors the
complete batches, in order (``BatchInFlight.finish``), and this one reads on; each batch has its
``intent`` line once it is complete, before anything of it is committed or anchored, and its
``done`` line after its own anchoring. Packs sealed for a batch that never got its ``intent``
line (the run was killed first) are never anchored nor read: their ids are not used again.

Bad input never stops the import (unless ``strict``): a file that is not JSON, an invalid
resource, a resource over the size limit, one whose patient is not in the map, each gives one
line naming the file, the entry index and the reason, in the report.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careledger.codes import Category
from careledger.contracts import new_batch_id
from careledger.errors import InvalidInput
from careledger.validate import address

#: Resources that describe no patient: not records (counted as skipped).
NOT_PATIENT_DATA = {"Practitioner", "PractitionerRole", "Organization", "Location", "Medication",
                    "Substance", "HealthcareService", "Endpoint", "Provenance"}
DEFAULT_MAX_RESOURCE = 1024 * 1024
_IMAGING_SECTIONS = {"RAD", "CT", "NMR", "NMS", "RUS", "RX", "VUS", "OUS", "CUS", "XRC"}


@dataclass(frozen=True)
class Item:
    """One valid resource, ready to publish."""

    key: str
    patient: str
    category: Category
    body: bytes


@dataclass
class ImportReport:
    """What an import read, published and skipped, with one line per problem."""

    files: int = 0
    resources: int = 0
    published: int = 0
    already_done: int = 0
    batches: int = 0
    not_patient_data: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.problems)


def category_of(resource: dict[str, Any]) -> Category:
    """The CareLedger category of a FHIR resource (by type, and category codings)."""
    kind = resource.get("resourceType")
    codes = {c.get("code") for cat in resource.get("category", []) or []
             if isinstance(cat, dict) for c in cat.get("coding", []) or []}
    if kind == "Observation":
        if "laboratory" in codes:
            return Category.LAB
        if "vital-signs" in codes:
            return Category.VITALS
        return Category.NOTE
    if kind == "DiagnosticReport":
        if codes & _IMAGING_SECTIONS:
            return Category.IMAGING
        return Category.LAB if "LAB" in codes or "laboratory" in codes else Category.NOTE
    if kind == "ImagingStudy":
        return Category.IMAGING
    if kind in ("MedicationRequest", "MedicationStatement", "MedicationAdministration",
                "MedicationDispense"):
        return Category.MEDICATION
    if kind == "AllergyIntolerance":
        return Category.ALLERGY
    return Category.NOTE


def _patient_ref(resource: dict[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id") or "") or None
    for name in ("subject", "patient", "beneficiary"):
        ref = resource.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            value: str = ref["reference"]
            return value.removeprefix("urn:uuid:").removeprefix("Patient/")
    return None


def load_patient_map(path: Path) -> dict[str, str]:
    """``{"<FHIR Patient id>": "0x<wallet>"}`` (``Patient/<id>`` keys accepted).

    Raises:
        InvalidInput: not such a file, or an entry that is not an address.
    """
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read the patient map {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInput(f"the patient map {path} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"the patient map {path} must be an object "
                           '{"<Patient id>": "0x<wallet address>"}')
    return {str(k).removeprefix("Patient/"): address(v, f"patient map entry {k}")
            for k, v in raw.items()}


def _inputs(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix in (".json", ".ndjson"))
        else:
            yield p


def validate_resources(resources: list[tuple[str, bytes]]) -> list[str | None]:
    """Validate each ``(resourceType, canonical JSON)`` with its ``fhir.resources`` R4B model
    (in a worker process of the import's pool); ``None`` if valid, else the reason."""
    from fhir.resources.R4B import get_fhir_model_class

    out: list[str | None] = []
    for kind, body in resources:
        try:
            get_fhir_model_class(kind).model_validate_json(body)
        except Exception as exc:  # noqa: BLE001 - unknown type (KeyError), pydantic errors
            detail = str(exc).splitlines()
            out.append(detail[1].strip() if len(detail) > 1 else detail[0] if detail else
                       repr(exc))
            continue
        out.append(None)
    return out


#: resources per validation job, and jobs in flight ahead of the one being consumed
_CHUNK = 128
_AHEAD = 12
#: complete batches waiting to be committed and anchored: at least this many, and as many as
#: make this many resources (small batches are committed several at a time)
_IN_FLIGHT = 2
_IN_FLIGHT_RESOURCES = 1024
#: how long the patients' public keys read from the chain are used for new batches
_KEY_CACHE_SECONDS = 60.0


def read_items(paths: list[Path], patient_map: dict[str, str], report: ImportReport, *,
               max_resource: int = DEFAULT_MAX_RESOURCE, strict: bool = False,
               executor: Executor | None = None) -> Iterator[Item]:
    """Every valid patient resource of ``paths``; problems go to ``report.problems`` (or raise
    ``InvalidInput`` at the first one when ``strict``).

    With ``executor`` (a process pool) resources are validated there, ``_CHUNK`` at a time and
    up to ``_AHEAD`` chunks ahead of the consumer, in input order."""

    def problem(line: str) -> None:
        report.problems.append(line)
        if strict:
            raise InvalidInput(f"{line} (--strict: stopped; batches already published stay)")

    pending: deque[tuple[list[_Entry], Any]] = deque()
    for chunk in _chunks(paths, report, max_resource):
        todo = [(e.kind, e.body) for e in chunk if e.problem is None]
        if executor is None:
            pending.append((chunk, validate_resources(todo)))
        else:
            pending.append((chunk, executor.submit(validate_resources, todo)))
        while len(pending) > (_AHEAD if executor is not None else 0):
            yield from _checked(*pending.popleft(), patient_map, report, problem)
    while pending:
        yield from _checked(*pending.popleft(), patient_map, report, problem)


@dataclass
class _Entry:
    """One entry read from an input file (``problem``: a reason found before validation; a
    file-level problem has ``index`` -1)."""

    path: Path
    index: int
    resource: Any = None
    body: bytes = b""
    kind: str = ""
    problem: str | None = None


def _chunks(paths: list[Path], report: ImportReport, max_resource: int) -> Iterator[list[_Entry]]:
    chunk: list[_Entry] = []
    for path in _inputs(paths):
        report.files += 1
        try:
            entries = list(_entries(path))
        except (OSError, ValueError) as exc:
            chunk.append(_Entry(path, -1, problem=(
                f"{path}: not a FHIR bundle, resource or NDJSON file ({exc})")))
            continue
        for index, resource in entries:
            where = f"{path}: entry {index}"
            if isinstance(resource, Exception):
                chunk.append(_Entry(path, index, problem=f"{where}: not JSON ({resource})"))
            else:
                body = json.dumps(resource, sort_keys=True, separators=(",", ":")).encode()
                kind = resource.get("resourceType") if isinstance(resource, dict) else None
                entry = _Entry(path, index, resource, body, str(kind))
                if len(body) > max_resource:
                    entry.problem = (f"{where}: {len(body):,} bytes, over the limit of "
                                     f"{max_resource:,}")
                chunk.append(entry)
            if len(chunk) >= _CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _checked(chunk: list[_Entry], verdicts: Any, patient_map: dict[str, str],
             report: ImportReport, problem: Callable[[str], None]) -> Iterator[Item]:
    results = iter(verdicts if isinstance(verdicts, list) else verdicts.result())
    for e in chunk:
        if e.index < 0:
            problem(str(e.problem))
            continue
        report.resources += 1
        if e.problem is not None:
            problem(e.problem)
            continue
        reason = next(results)
        where = f"{e.path}: entry {e.index}"
        kind = e.resource.get("resourceType") if isinstance(e.resource, dict) else None
        if reason is not None:
            problem(f"{where}: invalid {kind or 'resource'}: {reason}")
            continue
        assert isinstance(e.resource, dict)
        if kind in NOT_PATIENT_DATA:
            report.not_patient_data += 1
            continue
        ref = _patient_ref(e.resource)
        if ref is None or ref not in patient_map:
            problem(f"{where}: {kind} of patient {ref or '(none)'} is not in the patient map")
            continue
        key = f"{e.path.name}#{e.index}#{hashlib.sha256(e.body).hexdigest()[:32]}"
        yield Item(key, patient_map[ref], category_of(e.resource), e.body)


def _entries(path: Path) -> Iterator[tuple[int, Any]]:
    if path.suffix == ".ndjson":
        with path.open() as fh:
            for i, line in enumerate(fh):
                if line.strip():
                    try:
                        yield i, json.loads(line)
                    except ValueError as exc:
                        yield i, exc
        return
    data = json.loads(path.read_text())
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        for i, entry in enumerate(data.get("entry") or []):
            yield i, (entry or {}).get("resource") if isinstance(entry, dict) else entry
    else:
        yield 0, data


class ImportJournal:
    """Append-only, fsynced: ``intent`` and ``done`` lines per batch (see the module)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.done: set[str] = set()
        self.open_batches: dict[str, tuple[str, list[str]]] = {}  # batch id -> (category, keys)
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    break  # the line being written when the process stopped
                if rec["kind"] == "intent":
                    self.open_batches[rec["batch"]] = (rec["category"], rec["keys"])
                elif rec["kind"] == "done":
                    _, keys = self.open_batches.pop(rec["batch"], ("", []))
                    self.done.update(keys)
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        """Append one line durably (from any thread: the lines never interleave)."""
        self.write_many([record])

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append lines durably, with one fsync."""
        text = "".join(json.dumps(record) + "\n" for record in records)
        with self._lock, self.path.open("a") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


GROUPS = ("resource", "encounter")


def import_fhir(provider: Any, paths: list[Path], patient_map: dict[str, str], *,
                batch_size: int = 256, journal: Path | None = None, dry_run: bool = False,
                strict: bool = False, max_resource: int = DEFAULT_MAX_RESOURCE,
                progress: Callable[[int], None] | None = None,
                workers: int | None = None, group: str = "resource") -> ImportReport:
    """Import ``paths`` as ``provider`` (see the module). Returns the report.

    ``workers``: processes that validate resources and encrypt and write records, overlapped
    with this one's reading, group commits and anchoring (default: one per core; 0: all in
    this process). ``group``: ``"resource"`` (one record per resource) or ``"encounter"``
    (one record per encounter: the Encounter and every resource of the same file that refers to
    it, as a FHIR collection Bundle, category NOTE; resources of no encounter stay one record
    each). A DocumentReference is one record either way (its attachment travels inside it).
    """
    if not 1 <= batch_size <= 4096:
        raise InvalidInput("batch size must be 1 to 4096")
    if group not in GROUPS:
        raise InvalidInput(f"group records per {group!r}? use one of {', '.join(GROUPS)}")
    count = (os.cpu_count() or 1) if workers is None else workers
    if count <= 0:
        return _import(provider, paths, patient_map, None, batch_size=batch_size,
                       journal=journal, dry_run=dry_run, strict=strict,
                       max_resource=max_resource, progress=progress, group=group)
    methods = multiprocessing.get_all_start_methods()
    # fork: the workers start with this process's imports (fhir.resources, crypto) loaded
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(count, mp_context=context, initializer=_worker_init,
                             initargs=(os.getpid(),)) as executor:
        try:
            return _import(provider, paths, patient_map, executor, batch_size=batch_size,
                           journal=journal, dry_run=dry_run, strict=strict,
                           max_resource=max_resource, progress=progress, group=group)
        except BaseException:
            executor.shutdown(wait=True, cancel_futures=True)
            raise


def _worker_init(parent: int) -> None:
    """A worker dies with the importer (kill -9 included): an orphan still writing wrapped
    keys of an interrupted batch would race the rerun that seals it again."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):  # not Linux: the pool's own broken-pipe exit
        pass
    if os.getppid() != parent:  # the importer died before prctl
        os._exit(1)


def _import(provider: Any, paths: list[Path], patient_map: dict[str, str],
            executor: Executor | None, *, batch_size: int, journal: Path | None, dry_run: bool,
            strict: bool, max_resource: int,
            progress: Callable[[int], None] | None, group: str = "resource") -> ImportReport:
    report = ImportReport()
    state = ImportJournal(journal or _default_journal(provider)) if not dry_run else None
    # keys of interrupted batches: reassembled from the input, then published under their id
    reopen = {k: b for b, (_, keys) in (state.open_batches.items() if state else []) for k in keys}
    reassembly: dict[str, dict[str, Item]] = {b: {} for b in (state.open_batches if state else {})}

    # with a pool: complete batches are committed and anchored in order by one thread, while
    # this one reads on, and the pool validates and seals the next ones as they are read
    committer = _Committer(state) if executor is not None and state is not None else None
    in_flight: deque[tuple[Future[None], bytes, Category, list[Item]]] = deque()
    # batches waiting for their commit: a few, and some thousand resources when they are small
    most = max(_IN_FLIGHT, _IN_FLIGHT_RESOURCES // batch_size)

    def finished(batch_id: bytes, category: Category, items: list[Item]) -> None:
        assert state is not None
        state.open_batches.pop(batch_id.hex(), None)
        report.batches += 1
        report.published += len(items)
        report.by_category[category.name] = report.by_category.get(category.name, 0) + len(items)

    def collect(keep: int) -> None:
        """Wait for the oldest batches in flight until at most ``keep`` are left (and take
        the ones already done); raise what their commit raised."""
        while in_flight and (len(in_flight) > keep or in_flight[0][0].done()):
            future, batch_id, category, items = in_flight.popleft()
            future.result()
            finished(batch_id, category, items)

    key_cache: dict[str, bytes] = {}  # patients' keys, read from the chain again every minute
    keys_read = [time.monotonic()]

    def keys() -> dict[str, bytes]:
        if time.monotonic() - keys_read[0] > _KEY_CACHE_SECONDS:  # a rotated key is seen
            key_cache.clear()
            keys_read[0] = time.monotonic()
        return key_cache

    def start(category: Category) -> Any:
        """A new batch of ``category`` sealed as it fills (with a pool), or ``None``."""
        if committer is None:
            return None
        assert executor is not None
        return provider.open_batch(category, executor, key_cache=keys(),
                                   chunk=max(32, min(256, -(-batch_size // 4))))

    def publish(batch_id: bytes, category: Category, items: list[Item],
                flight: Any = None) -> None:
        """Publish a complete batch (``flight``: the one ``start`` opened for it)."""
        assert state is not None
        fresh = batch_id.hex() not in state.open_batches  # drawn now: nothing of it exists
        if fresh:  # before anything of the batch is committed or anchored
            state.write({"kind": "intent", "batch": batch_id.hex(), "category": category.name,
                         "keys": [i.key for i in items]})
        members = [(i.patient, i.body) for i in items]
        if committer is None:
            provider.publish_batch(members, category, batch_id=batch_id)
            state.write({"kind": "done", "batch": batch_id.hex()})
            finished(batch_id, category, items)
            return
        if flight is None:  # an interrupted batch, reassembled from the input
            flight = provider.begin_batch(members, category, batch_id=batch_id,
                                          executor=executor, fresh=fresh, key_cache=keys())
        in_flight.append((committer.submit(flight), batch_id, category, items))
        collect(most)

    try:
        _publish_all(provider, paths, patient_map, executor, report, state, start, publish,
                     reopen=reopen, reassembly=reassembly, batch_size=batch_size,
                     dry_run=dry_run, strict=strict, max_resource=max_resource,
                     progress=progress, group=group)
        collect(0)
    finally:
        if committer is not None:
            # the batches being committed and anchored end first (nothing writes behind a
            # rerun); the ones not started stay open in the journal, for the rerun
            committer.shutdown()
    if not dry_run:
        assert state is not None
        for batch in list(state.open_batches):
            report.problems.append(f"interrupted batch 0x{batch} could not be completed: some "
                                   "of its resources are no longer in the input")
    return report


class _Committer:
    """One thread that finishes complete batches in order (``finish_batches``): all those
    waiting when it is free at once, so their files share one group commit and their anchors
    are sent back to back; then their ``done`` lines, in one journal write."""

    def __init__(self, journal: ImportJournal) -> None:
        self.journal = journal
        self._queue: queue.SimpleQueue[tuple[Any, Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="careledger-import-commit",
                                        daemon=True)
        self._thread.start()

    def submit(self, flight: Any) -> Future[None]:
        """Queue a complete batch (a ``BatchInFlight``); the future is done once it is
        anchored and its ``done`` line written."""
        future: Future[None] = Future()
        self._queue.put((flight, future))
        return future

    def _run(self) -> None:
        from careledger.actors import provider

        while (first := self._queue.get()) is not None:
            taken = [first]
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after these
                    break
                taken.append(more)
            taken = [(f, fut) for f, fut in taken if fut.set_running_or_notify_cancel()]
            try:
                provider.finish_batches([f for f, _ in taken])
                self.journal.write_many([{"kind": "done", "batch": f.batch_id.hex()}
                                         for f, _ in taken])
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting importer
                for _, future in taken:
                    future.set_exception(exc)
            else:
                for _, future in taken:
                    future.set_result(None)

    def shutdown(self) -> None:
        """Cancel the batches not started, let the ones being finished end, stop."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[1].cancel()
        self._queue.put(None)
        self._thread.join()


def _publish_all(provider: Any, paths: list[Path], patient_map: dict[str, str],
                 executor: Executor | None, report: ImportReport, state: ImportJournal | None,
                 start: Callable[[Category], Any],
                 publish: Callable[[bytes, Category, list[Item], Any], None], *,
                 reopen: dict[str, str], reassembly: dict[str, dict[str, Item]],
                 batch_size: int, dry_run: bool, strict: bool, max_resource: int,
                 progress: Callable[[int], None] | None, group: str) -> None:
    """Read every item of ``paths`` and hand each full batch (per category) to ``publish``;
    the resources of interrupted batches are reassembled and published under their id. A
    batch ``start`` opened (``Provider.open_batch``) is given each item as it comes, so its
    sealing overlaps the reading and validation of the rest."""
    buffers: dict[Category, tuple[Any, list[Item]]] = {}
    items = read_items(paths, patient_map, report, max_resource=max_resource, strict=strict,
                       executor=executor)
    if group == "encounter":
        items = by_encounter(items, progress)
        progress = None  # counted per resource inside
    for item in items:
        if progress is not None:
            progress(1)
        if dry_run:
            report.by_category[item.category.name] = report.by_category.get(item.category.name, 0) + 1
            continue
        assert state is not None
        if item.key in state.done:
            report.already_done += 1
            continue
        if item.key in reopen:
            batch = reopen[item.key]
            reassembly[batch][item.key] = item
            category, keys = state.open_batches[batch]
            if len(reassembly[batch]) == len(keys):
                publish(bytes.fromhex(batch), Category[category],
                        [reassembly[batch][k] for k in keys], None)
            continue
        if item.category not in buffers:
            buffers[item.category] = (start(item.category), [])
        flight, buf = buffers[item.category]
        buf.append(item)
        if flight is not None:
            flight.add(item.patient, item.body)
        if len(buf) >= batch_size:
            del buffers[item.category]
            publish(new_batch_id(provider.address) if flight is None else flight.batch_id,
                    item.category, buf, flight)
    for category, (flight, buf) in buffers.items():
        publish(new_batch_id(provider.address) if flight is None else flight.batch_id,
                category, buf, flight)


def encounter_of(resource: dict[str, Any]) -> str | None:
    """The id of the encounter a resource belongs to (an Encounter: its own), or None."""
    if resource.get("resourceType") == "Encounter":
        return str(resource.get("id")) if resource.get("id") else None
    ref = (resource.get("encounter") or resource.get("context") or {})
    if isinstance(ref, list):  # DocumentReference.context.encounter is a list
        ref = ref[0] if ref else {}
    ref = ref.get("encounter", ref) if isinstance(ref, dict) else {}
    if isinstance(ref, list):
        ref = ref[0] if ref else {}
    value = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str) or not value:
        return None
    return value.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def by_encounter(items: Iterator[Item],
                 progress: Callable[[int], None] | None = None) -> Iterator[Item]:
    """Regroup one file's items per encounter: one Item per encounter (a FHIR collection
    Bundle of its resources, in input order, category NOTE) and the others unchanged. A group
    is keyed by file, encounter and content, so a rerun finds it done."""
    current: str | None = None
    groups: dict[tuple[str, str], list[tuple[Item, dict[str, Any]]]] = {}

    def flush() -> Iterator[Item]:
        for (patient, encounter), members in groups.items():
            bundle = {"resourceType": "Bundle", "type": "collection",
                      "entry": [{"resource": r} for _, r in members]}
            body = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
            key = f"{current}#encounter/{encounter}#{hashlib.sha256(body).hexdigest()[:32]}"
            yield Item(key, patient, Category.NOTE, body)
        groups.clear()

    for item in items:
        if progress is not None:
            progress(1)
        name = item.key.split("#", 1)[0]
        if name != current:
            yield from flush()
            current = name
        resource = json.loads(item.body)
        encounter = encounter_of(resource)
        if encounter is None or resource.get("resourceType") == "DocumentReference":
            yield item
            continue
        groups.setdefault((item.patient, encounter), []).append((item, resource))
    yield from flush()


def _default_journal(provider: Any) -> Path:
    uploads = getattr(provider.ws, "uploads", None)
    if uploads is None:
        raise InvalidInput("this workspace has no local folder for the import journal: pass one")
    return Path(uploads).parent / "imports" / "journal.jsonl"
