"""RSS per stored client: one herd-server alone in its herd, N distinct IAMATs pipelined over 4
connections (chunks of 2,000), RSS (VmRSS) before and after. Usage: mem.py BIN N"""
import asyncio, os, subprocess, sys, tempfile, time, socket

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

async def feed(port, ids):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        w.write(b"".join(b"IAMAT %s +34.068930-118.445127 1700000000.000000001\n" % i for i in chunk))
        await w.drain()
        for _ in chunk:
            line = await r.readline()
            assert line.startswith(b"AT "), line
    w.close()

async def main():
    binary, n = sys.argv[1], int(sys.argv[2])
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    d = tempfile.mkdtemp()
    open(f"{d}/h.toml", "w").write(f'[[server]]\nname = "M"\naddress = "127.0.0.1:{port}"\n')
    p = subprocess.Popen([binary, "--herd", f"{d}/h.toml", "M", "--log-dir", f"{d}/logs"], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.5)
    idle = rss_kib(p.pid)
    ids = [b"m%07d" % i for i in range(n)]
    t = time.time()
    await asyncio.gather(*(feed(port, ids[k::4]) for k in range(4)))
    took = time.time() - t
    time.sleep(1.0)
    full = rss_kib(p.pid)
    p.terminate(); p.wait()
    per = (full - idle) * 1024 / n
    print(f"clients={n} idle_rss_kib={idle} rss_kib={full} bytes_per_client={per:.1f} id_bytes=8 beyond_id={per-8:.1f} feed_s={took:.1f}")

asyncio.run(main())
