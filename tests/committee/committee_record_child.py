"""Child process for the crash test: a room recording one publishing peer.

Usage: python committee_record_child.py DIRECTORY
Prints "recording" once every track has its first packet on disk, then keeps
recording until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from committee_loopback import use_loopback_host_candidates  # noqa: E402

use_loopback_host_candidates()

from committee.recorder import RoomRecorder  # noqa: E402
from committee.sfu import MediaRoom  # noqa: E402
from committee_peers import ClientParticipant  # noqa: E402


async def main(directory: Path) -> None:
    room = MediaRoom("crash-meeting")
    recorder = RoomRecorder(directory, "crash-meeting")
    room.observers.append(recorder)
    publisher = ClientParticipant("speaker")
    await publisher.join(room)
    while not (
        len(recorder.recordings) == 2
        and all(r.entry.first_packet_time for r in recorder.recordings)
    ):
        await asyncio.sleep(0.02)
    print("recording", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
