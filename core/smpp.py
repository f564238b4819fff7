"""SMS through a carrier's SMSC over SMPP 3.4 (smpplib), behind the `SmsGateway` interface.

Chinese text goes as UCS-2 (data_coding 8); long texts are split into parts carrying a
concatenation UDH (esm_class 0x40). Every part asks for an SMSC delivery receipt
(registered_delivery 1); receipts arrive as deliver_sm and are stored per part.

Idempotency: SMPP has no idempotency key, so the gateway keeps a ledger row per outbox id
(`sms_submissions`). A message whose parts were all acknowledged (submit_sm_resp) is never
submitted again: when the outbox hands it over a second time (the worker died between the
SMSC's answer and marking the message sent) the stored reference is returned. A message the
SMSC refused, or that never left the socket, is submitted again later. The one case SMPP
cannot settle is a connection lost after submit_sm was written but before its answer; the
ledger marks it `uncertain` and it is submitted again (better a rare duplicate than a lost
dunning notice), counted in the ledger so operators see it.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp
from sqlalchemy import update

from .db import Database
from .orm import utcnow
from .postloan.tables import SmsPart, SmsSubmission
from .smsgateway import GatewayError, OutgoingMessage, mask_phone

log = logging.getLogger("loanctl.smpp")
# SMSC answers that mean "not now": the message is submitted again after a back-off.
TRANSIENT = {0x08: "system error", 0x14: "message queue full", 0x58: "throttled", 0x64: "submit failed"}
_RECEIPT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Z]+)", re.S)


class SmppConfigError(ValueError):
    """The LOANCTL_SMS_GATEWAY value is not a usable smpp:// address."""


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str
    source_addr: str = "95577"
    per_number_per_minute: int = 3
    connect_attempts: int = 3
    backoff_seconds: float = 0.2
    timeout_seconds: float = 5.0

    @classmethod
    def from_url(cls, url: str) -> "SmppSettings":
        """smpp://system_id:password@host:port?source=95577&rate=3"""
        parts = urlsplit(url)
        if parts.scheme != "smpp" or not parts.hostname or not parts.username:
            raise SmppConfigError(f"expected smpp://user:password@host:port, got {url!r}")
        try:
            port = parts.port or 2775
        except ValueError:
            raise SmppConfigError(f"bad port in {url!r}") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            rate = int(query.get("rate", 3))
        except ValueError:
            raise SmppConfigError("rate must be an integer (messages per number per minute)") from None
        if rate < 1:
            raise SmppConfigError("rate must be at least 1")
        return cls(parts.hostname, port, unquote(parts.username), unquote(parts.password or ""),
                   query.get("source", "95577"), rate)


class RateLimit:
    """At most `limit` messages to one number in any 60 seconds (carriers block floods)."""

    def __init__(self, limit: int, window: float = 60.0, clock=time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.sent: dict[str, collections.deque] = {}

    def allow(self, phone: str) -> bool:
        now = self.clock()
        times = self.sent.setdefault(phone, collections.deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


def encode(text: str) -> tuple[list[bytes], int, int]:
    """Parts, data_coding and esm_class for a text; Chinese always goes as UCS-2."""
    return smpplib.gsm.make_parts(text, encoding=smpplib.consts.SMPP_ENCODING_DEFAULT)


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"SMSC refused the message: status 0x{status:02x} ({TRANSIENT.get(status, 'permanent')})")
        self.status = status


class _Unsent(Exception):
    """Nothing reached the SMSC (no connection or bind): safe to submit again."""


class _Uncertain(Exception):
    """submit_sm was written, its answer never came."""


class SmppGateway:
    def __init__(self, db: Database, settings: SmppSettings) -> None:
        self.db = db
        self.settings = settings
        self.limit = RateLimit(settings.per_number_per_minute)
        self._client: smpplib.client.Client | None = None
        self._lock = threading.Lock()
        self._acks: dict[int, tuple[int, str]] = {}
        self._receipts: list[tuple[str, str]] = []

    # -- the gateway interface ------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> str:
        if not message.phone:
            raise GatewayError("no phone number")
        async with self.db.unit_of_work() as session:
            row = await session.get(SmsSubmission, message.id)
            if row is not None and row.state == "accepted":
                return row.reference  # acknowledged before: never submitted twice
            if not self.limit.allow(message.phone):
                raise GatewayError(f"rate limit for {mask_phone(message.phone)} reached; later")
            if row is None:
                row = SmsSubmission(outbox_id=message.id, phone=message.phone, state="submitting", attempts=0)
                session.add(row)
            if row.state == "uncertain":
                log.warning("SMS #%s: previous submit unanswered; submitting again", message.id)
            row.state, row.attempts, row.updated_at = "submitting", row.attempts + 1, utcnow()
        try:
            ids = await asyncio.to_thread(self._submit, message.phone, message.text)
        except _Unsent as error:
            await self._mark(message.id, "retry", str(error))
            raise GatewayError(str(error)) from None
        except _Refused as error:
            await self._mark(message.id, "retry", str(error))
            raise GatewayError(str(error)) from None
        except _Uncertain as error:
            await self._mark(message.id, "uncertain", str(error))
            raise GatewayError(str(error)) from None
        reference = ",".join(ids)
        async with self.db.unit_of_work() as session:
            await session.execute(update(SmsSubmission).where(SmsSubmission.outbox_id == message.id).values(
                state="accepted", reference=reference[:400], last_error="", updated_at=utcnow()))
            for n, message_id in enumerate(ids, start=1):
                if await session.get(SmsPart, message_id) is None:
                    session.add(SmsPart(message_id=message_id, outbox_id=message.id, part_no=n))
        await self._store_receipts()
        log.info("SMS #%s to %s accepted by the SMSC as %s", message.id, mask_phone(message.phone), reference)
        return reference

    async def poll_receipts(self) -> int:
        """Read delivery receipts waiting on the connection and store them."""
        await asyncio.to_thread(self._poll)
        return await self._store_receipts()

    async def close(self) -> None:
        await asyncio.to_thread(self._disconnect)

    # -- ledger ---------------------------------------------------------------------------

    async def _mark(self, outbox_id: int, state: str, error: str) -> None:
        async with self.db.unit_of_work() as session:
            await session.execute(update(SmsSubmission).where(SmsSubmission.outbox_id == outbox_id).values(
                state=state, last_error=error[:2000], updated_at=utcnow()))

    async def _store_receipts(self) -> int:
        with self._lock:
            receipts, self._receipts = self._receipts, []
        if not receipts:
            return 0
        async with self.db.unit_of_work() as session:
            for message_id, state in receipts:
                await session.execute(update(SmsPart).where(SmsPart.message_id == message_id).values(
                    receipt_state=state[:16], receipt_at=utcnow()))
        return len(receipts)

    # -- the SMPP session (blocking; run in a worker thread) --------------------------------

    def _connect(self) -> smpplib.client.Client:
        if self._client is not None and self._client.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX:
            if self._alive(self._client):
                return self._client
        self._disconnect_locked()
        delay = self.settings.backoff_seconds
        last: Exception | None = None
        for attempt in range(self.settings.connect_attempts):
            client = smpplib.client.Client(self.settings.host, self.settings.port,
                                           timeout=self.settings.timeout_seconds, allow_unknown_opt_params=True)
            client.set_message_sent_handler(self._on_ack)
            client.set_message_received_handler(self._on_deliver)
            client.set_error_pdu_handler(self._on_error_pdu)
            try:
                client.connect()
                client.bind_transceiver(system_id=self.settings.system_id, password=self.settings.password)
                self._client = client
                return client
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as error:
                last = error
                try:
                    client.disconnect()
                except Exception:  # noqa: BLE001 - the socket is gone either way
                    pass
                if attempt + 1 < self.settings.connect_attempts:
                    time.sleep(delay)
                    delay *= 2
        raise _Unsent(f"cannot bind to the SMSC at {self.settings.host}:{self.settings.port}: {last!r}")

    def _alive(self, client: smpplib.client.Client) -> bool:
        """enquire_link before reusing a session: a dead one is found before a submit is written to
        it, so a message is never left `uncertain` merely because the SMSC restarted while idle."""
        try:
            ping = smpplib.smpp.make_pdu("enquire_link", client=client)
            client.send_pdu(ping)
            while True:
                pdu = client.read_pdu()
                if pdu.command == "enquire_link_resp" and pdu.sequence == ping.sequence:
                    return True
                if pdu.command == "deliver_sm":
                    client._message_received(pdu)  # a receipt that was waiting; answered as usual
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
            self._disconnect_locked()
            return False

    def _disconnect_locked(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                if client.state != smpplib.consts.SMPP_CLIENT_STATE_CLOSED:
                    client.disconnect()
            except Exception:  # noqa: BLE001
                pass

    def _disconnect(self) -> None:
        with self._lock:
            client = self._client
            if client is not None and client.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX:
                try:
                    client.unbind()
                except Exception:  # noqa: BLE001
                    pass
            self._disconnect_locked()

    def _on_ack(self, pdu, **_) -> None:
        message_id = pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else str(pdu.message_id)
        self._acks[pdu.sequence] = (pdu.status, message_id)

    def _on_error_pdu(self, pdu) -> None:
        self._acks[pdu.sequence] = (int(pdu.status), "")

    def _on_deliver(self, pdu, **_) -> int:
        if int(getattr(pdu, "esm_class", 0) or 0) & 0x04:  # an SMSC delivery receipt
            message_id = getattr(pdu, "receipted_message_id", None)
            text = pdu.short_message.decode("ascii", "replace") if isinstance(pdu.short_message, bytes) else str(pdu.short_message)
            found = _RECEIPT.search(text)
            if isinstance(message_id, bytes):
                message_id = message_id.decode()
            if not message_id and found:
                message_id = found.group("id")
            if message_id:
                self._receipts.append((message_id, found.group("stat") if found else "DELIVRD"))
        return smpplib.consts.SMPP_ESME_ROK

    def _submit(self, phone: str, text: str) -> list[str]:
        with self._lock:
            client = self._connect()
            parts, coding, esm_class = encode(text)
            sequences = []
            written = False
            try:
                for part in parts:
                    pdu = client.send_message(
                        source_addr_ton=smpplib.consts.SMPP_TON_ALNUM, source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                        source_addr=self.settings.source_addr, dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                        dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN, destination_addr=phone, short_message=part,
                        data_coding=coding, esm_class=esm_class, registered_delivery=1)
                    written = True
                    sequences.append(pdu.sequence)
                deadline = time.monotonic() + self.settings.timeout_seconds
                while any(s not in self._acks for s in sequences):
                    if time.monotonic() > deadline:
                        raise _Uncertain("no submit_sm_resp before the timeout")
                    client.read_once(auto_send_enquire_link=False)
            except (smpplib.exceptions.ConnectionError, OSError, TimeoutError) as error:
                self._disconnect_locked()
                if written:
                    raise _Uncertain(f"connection lost waiting for the SMSC's answer: {error!r}") from None
                raise _Unsent(f"connection lost before submitting: {error!r}") from None
            except _Uncertain:
                self._disconnect_locked()
                raise
            results = [self._acks.pop(s) for s in sequences]
            refused = [status for status, _ in results if status != 0]
            if refused:
                raise _Refused(refused[0])
            return [message_id for _, message_id in results]

    def _poll(self) -> None:
        with self._lock:
            if self._client is None:
                return
            try:
                self._client.poll(auto_send_enquire_link=False)
            except (smpplib.exceptions.ConnectionError, OSError):
                self._disconnect_locked()


def gateway_from_setting(value: str, db: Database):
    """The gateway named by LOANCTL_SMS_GATEWAY: `log` (default) or `smpp://user:pass@host:port`."""
    from .smsgateway import LogGateway

    value = (value or "log").strip()
    if value == "log":
        return LogGateway(db)
    if value.startswith("smpp://"):
        return SmppGateway(db, SmppSettings.from_url(value))
    raise SmppConfigError(f"LOANCTL_SMS_GATEWAY must be 'log' or smpp://user:password@host:port, got {value!r}")
