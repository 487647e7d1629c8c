"""Bounded IAMAT driver for callgrind runs: C connections spread over the herd, each sends N
IAMATs closed loop (one in flight), checks each reply is an AT line, then waits for the herd's
logs to go quiet (floods settled). Prints the number of IAMATs answered."""
import asyncio, os, sys, time

async def client(host, port, cid, n):
    r, w = await asyncio.open_connection(host, port)
    ok = 0
    for i in range(n):
        w.write(b"IAMAT perf-%d +34.068930-118.445127 %d.%09d\n" % (cid, 1700000000 + i, cid))
        await w.drain()
        line = await r.readline()
        if line.startswith(b"AT "):
            ok += 1
    w.close()
    return ok

async def main():
    ports = [int(p) for p in sys.argv[1].split(",")]
    conns, n, logdir = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    tasks = [client("127.0.0.1", ports[c % len(ports)], c, n) for c in range(conns)]
    done = sum(await asyncio.gather(*tasks))
    last, stable = None, 0
    while stable < 3:
        await asyncio.sleep(1)
        size = sum(os.path.getsize(os.path.join(logdir, f)) for f in os.listdir(logdir)) if os.path.isdir(logdir) else 0
        stable = stable + 1 if size == last else 0
        last = size
    print(done)

asyncio.run(main())
