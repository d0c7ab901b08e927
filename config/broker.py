"""kombu's filesystem transport (the broker of the embedded defaults) with atomic files.

kombu 5.7's ``filesystem`` transport creates a file, then locks it and writes it, in two places:

- a message: a worker polling the folder every 0.1 s does not take that lock, so it can move and
  read a file that is still empty and die with ``JSONDecodeError`` ("Unrecoverable error", worker
  gone). ``make run`` lost its worker that way 14 s after starting. Here a message is written under
  a name the reader skips (``<name>.msg.part``: the reader takes only ``<stamp>.<queue>.msg``) and
  renamed into place;
- an exchange's binding table, created by the first declare: a publisher can take its shared lock
  between the creation and the writer's exclusive lock, read it empty and fail the publish. Here the
  table is written to a temporary file and linked into place, and only an existing table is updated
  in place (under kombu's lock).

Rename and link are atomic on one filesystem: a reader sees a whole file or none. The rest is kombu's.
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

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        table = self._exchange_file(exchange)
        if not table.exists():
            self.control_folder.mkdir(exist_ok=True)
            binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = table.with_name(f"{table.name}.{uuid.uuid4().hex}.part")
            partial.write_bytes(str_to_bytes(dumps([binding])))
            try:
                os.link(partial, table)  # atomic: the table appears whole, or another declare made it first
                return
            except FileExistsError:
                pass  # created meanwhile: kombu adds this binding to it, under its lock
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
