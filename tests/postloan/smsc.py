"""A minimal SMPP 3.4 SMSC for the tests: a real TCP server speaking the protocol's bytes.

No SMSC simulator installable here speaks SMPP as a server (Debian's kannel is a gateway that
binds *to* an SMSC), so this fixture implements the server side the gateway needs: bind,
submit_sm with its response, deliver_sm delivery receipts, enquire_link and unbind. It keeps
what it received and can be told to fail: refuse (throttle) the next submits, drop the
connection after reading a submit (answer lost), or refuse connections while stopped.
"""
from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

BIND_TRX, BIND_TRX_RESP = 0x00000009, 0x80000009
SUBMIT, SUBMIT_RESP = 0x00000004, 0x80000004
DELIVER, DELIVER_RESP = 0x00000005, 0x80000005
ENQUIRE, ENQUIRE_RESP = 0x00000015, 0x80000015
UNBIND, UNBIND_RESP = 0x00000006, 0x80000006
GENERIC_NACK = 0x80000000
THROTTLED = 0x58


def _cstring(body: bytes, at: int) -> tuple[bytes, int]:
    end = body.index(b"\0", at)
    return body[at:end], end + 1


@dataclass
class Submitted:
    message_id: str
    destination: str
    data_coding: int
    esm_class: int
    short_message: bytes

    @property
    def udh_and_text(self) -> tuple[bytes, bytes]:
        if self.esm_class & 0x40:
            length = self.short_message[0] + 1
            return self.short_message[:length], self.short_message[length:]
        return b"", self.short_message


@dataclass
class Smsc:
    system_id: str = "bank"
    password: str = "secret"
    received: list[Submitted] = field(default_factory=list)
    throttle_next: int = 0
    drop_next: int = 0
    server: asyncio.AbstractServer | None = None
    port: int = 0
    _next_id: int = 1
    _writers: list = field(default_factory=list)

    async def start(self, port: int = 0) -> "Smsc":
        self.server = await asyncio.start_server(self._session, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and cut every session (the SMSC goes down)."""
        self.server.close()
        for writer in self._writers:
            writer.close()
        await self.server.wait_closed()
        self._writers.clear()

    def texts(self) -> list[str]:
        """Received messages, long ones reassembled from their UDH parts, decoded by data_coding."""
        out, pending = [], {}
        for sub in self.received:
            udh, payload = sub.udh_and_text
            text = payload.decode("utf-16-be") if sub.data_coding == 8 else payload.decode("ascii")
            if udh:
                ref, total, seq = udh[3], udh[4], udh[5]
                parts = pending.setdefault((sub.destination, ref), {})
                parts[seq] = text
                if len(parts) == total:
                    out.append("".join(parts[i] for i in range(1, total + 1)))
            else:
                out.append(text)
        return out

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        bound = False
        try:
            while True:
                header = await reader.readexactly(16)
                length, command, _status, sequence = struct.unpack(">IIII", header)
                body = await reader.readexactly(length - 16)
                if command == BIND_TRX:
                    system_id, at = _cstring(body, 0)
                    password, _ = _cstring(body, at)
                    ok = system_id.decode() == self.system_id and password.decode() == self.password
                    bound = ok
                    self._send(writer, BIND_TRX_RESP, 0 if ok else 0x0E, sequence, b"smsc\0")
                elif command == SUBMIT and bound:
                    if self.drop_next:
                        self.drop_next -= 1
                        writer.close()  # read it, never answer: the gateway cannot know
                        return
                    if self.throttle_next:
                        self.throttle_next -= 1
                        self._send(writer, SUBMIT_RESP, THROTTLED, sequence, b"\0")
                        continue
                    sub = self._parse_submit(body)
                    self.received.append(sub)
                    self._send(writer, SUBMIT_RESP, 0, sequence, sub.message_id.encode() + b"\0")
                    if self._registered:
                        self._receipt(writer, sub)
                elif command == ENQUIRE:
                    self._send(writer, ENQUIRE_RESP, 0, sequence, b"")
                elif command == UNBIND:
                    self._send(writer, UNBIND_RESP, 0, sequence, b"")
                    await writer.drain()
                    writer.close()
                    return
                elif command == DELIVER_RESP:
                    pass
                else:
                    self._send(writer, GENERIC_NACK, 0x03, sequence, b"")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _parse_submit(self, body: bytes) -> Submitted:
        _service, at = _cstring(body, 0)
        at += 2  # source ton, npi
        _source, at = _cstring(body, at)
        at += 2  # dest ton, npi
        destination, at = _cstring(body, at)
        esm_class = body[at]  # then protocol_id, priority_flag
        at += 3
        _schedule, at = _cstring(body, at)
        _validity, at = _cstring(body, at)
        registered, _replace, data_coding, _default_id, sm_length = body[at:at + 5]
        at += 5
        self._registered = bool(registered & 1)
        message_id = f"M{self._next_id:06d}"
        self._next_id += 1
        return Submitted(message_id, destination.decode(), data_coding, esm_class, body[at:at + sm_length])

    def _receipt(self, writer, sub: Submitted) -> None:
        text = f"id:{sub.message_id} sub:001 dlvrd:001 submit date:2611281200 done date:2611281200 stat:DELIVRD err:000 text:".encode()
        body = (b"\0" + b"\x01\x01" + sub.destination.encode() + b"\0" + b"\x00\x00" + b"bank\0"
                + bytes([0x04, 0, 0]) + b"\0" + b"\0" + bytes([0, 0, 0, 0, len(text)]) + text
                + struct.pack(">HH", 0x001E, len(sub.message_id) + 1) + sub.message_id.encode() + b"\0"
                + struct.pack(">HHB", 0x0427, 1, 2))
        self._send(writer, DELIVER, 0, 0x7000 + self._next_id, body)

    @staticmethod
    def _send(writer, command: int, status: int, sequence: int, body: bytes) -> None:
        writer.write(struct.pack(">IIII", 16 + len(body), command, status, sequence) + body)
