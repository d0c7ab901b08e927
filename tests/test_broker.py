"""The embedded defaults' broker (config/broker.py): a worker polling the folder never reads half a message."""

import threading

from kombu import Connection

from config.broker import Transport


def test_a_consumer_polling_while_messages_are_written_receives_every_message_whole(tmp_path):
    # kombu's own transport created the file, then wrote it: a reader polling at that moment moved an
    # empty file and died with JSONDecodeError (the worker of `make run`, 14 s after start).
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path),
        "store_processed": False,
        "polling_interval": 0.001,
    }
    sent = 1500
    body = {"padding": "x" * 20_000}  # large enough that a write is not one instant
    received = []
    errors = []

    ready = threading.Event()

    def consume():
        with Connection(transport=Transport, transport_options=options) as connection:
            queue = connection.SimpleQueue("celery")
            ready.set()  # bound: from here on nothing published may be lost
            try:
                while len(received) < sent:
                    message = queue.get(timeout=120)  # generous: a loaded CI machine starves threads
                    received.append(message.payload["n"])
                    message.ack()
            except Exception as exc:  # a half-written message surfaces here
                errors.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert ready.wait(timeout=30)
    with Connection(transport=Transport, transport_options=options) as connection:
        queue = connection.SimpleQueue("celery")
        for n in range(sent):
            queue.put({**body, "n": n})
    consumer.join(timeout=120)

    assert errors == []
    assert sorted(received) == list(range(sent))
    assert not list(folder.glob("*.part"))


def test_a_publisher_never_reads_an_exchange_table_half_created_by_a_declare(tmp_path):
    # kombu created the binding table empty, then locked and wrote it: a publish reading it in between
    # failed with JSONDecodeError (seen in this suite's run of the test above).
    failures = []
    for attempt in range(200):
        control = tmp_path / f"control-{attempt}"
        options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(control)}
        with (
            Connection(transport=Transport, transport_options=options) as declaring,
            Connection(transport=Transport, transport_options=options) as publishing,
        ):
            binder, reader = declaring.default_channel, publishing.default_channel
            barrier, tables = threading.Barrier(2), []

            def read(barrier, tables, reader):
                barrier.wait(timeout=10)
                for _ in range(200):
                    try:
                        tables.append(reader.get_table("celery"))
                    except Exception as exc:  # noqa: BLE001 - a half-written table
                        failures.append(exc)
                        return

            thread = threading.Thread(target=read, args=(barrier, tables, reader))
            thread.start()
            barrier.wait(timeout=10)
            binder._queue_bind("celery", "celery", None, "celery")
            thread.join(timeout=30)
            # Read once the bind returned (the racing reads may all have come before it on a busy machine).
            written = [tuple(binding) for binding in reader.get_table("celery")]
            assert written == [("celery", "", "celery")]

    assert failures == []
