# The programs of bench/sync.js under asyncio / uvloop. Prints one JSON object of ops/s.
import asyncio, json, sys, time

N_LOCK = 200_000        # uncontended acquire/release pairs
N_CONTENDED = 100_000   # acquire/release pairs in total, over 16 tasks
N_QUEUE = 200_000       # items through the queue
TASKS = 16
MAXSIZE = 64

async def lock_uncontended():
    lock = asyncio.Lock()
    t0 = time.perf_counter()
    for _ in range(N_LOCK):
        await lock.acquire()
        lock.release()
    return N_LOCK / (time.perf_counter() - t0)

async def lock_contended():
    lock = asyncio.Lock()
    per_task = N_CONTENDED // TASKS

    async def worker():
        for _ in range(per_task):
            await lock.acquire()
            try:
                await asyncio.sleep(0)  # hold it across a switch: the others queue up
            finally:
                lock.release()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(TASKS)])
    return per_task * TASKS / (time.perf_counter() - t0)

async def queue_put_get(consumers):
    q = asyncio.Queue(MAXSIZE)

    async def consumer():
        n = 0
        while True:
            item = await q.get()
            if item is None:
                return n
            n += 1

    async def producer():
        for i in range(N_QUEUE):
            await q.put(i)
        for _ in range(consumers):
            await q.put(None)

    t0 = time.perf_counter()
    res = await asyncio.gather(producer(), *[consumer() for _ in range(consumers)])
    assert sum(res[1:]) == N_QUEUE
    return N_QUEUE / (time.perf_counter() - t0)

def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else 'asyncio'
    if kind == 'uvloop':
        import uvloop
        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    out = {}
    cases = (
        ('lock_uncontended', lock_uncontended),
        ('lock_contended', lock_contended),
        ('queue_1', lambda: queue_put_get(1)),
        ('queue_16', lambda: queue_put_get(TASKS)),
    )
    for name, fn in cases:
        loop = new_loop()
        out[name] = loop.run_until_complete(fn())
        loop.close()
    print(json.dumps(out))

main()
