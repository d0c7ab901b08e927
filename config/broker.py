"""kombu's filesystem transport (the broker of the embedded defaults) with atomic message files.

kombu 5.7's ``filesystem`` transport creates a message file, then locks it and writes it; a worker
polling the folder every 0.1 s does not take that lock, so it can move and read a file that is still
empty and die with ``JSONDecodeError`` ("Unrecoverable error", worker gone). ``make run`` lost its
worker that way 14 s after starting. Here a message is written under a name the reader skips
(``<name>.msg.part``: the reader takes only ``<stamp>.<queue>.msg``) and renamed into place, which
is atomic on one filesystem, so a reader sees a whole message or none. Everything else is kombu's.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The name kombu gives a message: the reader sorts on it (FIFO) and matches its queue part.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as message:
                message.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
