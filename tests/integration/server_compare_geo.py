#!/usr/bin/python3
"""server_compare_geo.py - GEO commands' replies and errors, byte for byte, against
redis-server 7.0 (server_compare.py's method, RESP2 then RESP3): scores (52-bit
geohashes), positions, distances, geohash strings, searches by radius and box with every
option (unsorted results too, which come in the order the geohash cells are read),
STORE/STOREDIST, and a GEO key read as a sorted set. A random field of points checks
searches all over the map, near the poles and the antimeridian included.
Exit 0 when no difference, 1 otherwise, 77 when redis-server is missing.
"""
import os
import random
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, oracle_exit, run_oracle  # noqa: E402

CASES = [
    # the documentation's example, and GEOADD's options and errors
    ("geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", ""),
    ("geodist Sicily Palermo Catania", ""), ("geodist Sicily Palermo Catania km", ""),
    ("geodist Sicily Palermo Catania mi", ""), ("geodist Sicily Palermo Catania ft", ""),
    ("geodist Sicily Palermo Catania M", ""), ("geodist Sicily Palermo Catania parsecs", ""),
    ("geodist Sicily Palermo nosuch", ""), ("geodist nokey a b", ""), ("geodist Sicily a b km x", ""),
    ("geodist Sicily Palermo Palermo", ""),
    ("geohash Sicily Palermo Catania nosuch", ""), ("geohash nokey a", ""),
    ("geopos Sicily Palermo Catania nosuch", ""), ("geopos nokey a b", ""),
    ("zrange Sicily 0 -1 withscores", ""), ("zscore Sicily Palermo", ""),
    ("georadius Sicily 15 37 200 km WITHDIST", ""), ("georadius Sicily 15 37 200 km WITHCOORD", ""),
    ("georadius Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH", ""),
    ("georadius Sicily 15 37 100 km", ""), ("georadius Sicily 15 37 200 km ASC", ""),
    ("georadius Sicily 15 37 200 km DESC", ""), ("georadius Sicily 15 37 200 km COUNT 1", ""),
    ("georadius Sicily 15 37 200 km COUNT 1 DESC withdist", ""),
    ("georadius Sicily 15 37 200 km COUNT 1 ANY", ""), ("georadius Sicily 15 37 200 km ANY", ""),
    ("georadius Sicily 15 37 200 km COUNT 0", ""), ("georadius Sicily 15 37 200 km COUNT -1", ""),
    ("georadius Sicily 15 37 200 km COUNT x", ""), ("georadius Sicily 15 37 200 km COUNT", ""),
    ("georadius Sicily 15 37 -1 km", ""), ("georadius Sicily 15 37 x km", ""),
    ("georadius Sicily 15 37 200 lightyears", ""), ("georadius Sicily 200 37 200 km", ""),
    ("georadius Sicily x 37 200 km", ""), ("georadius Sicily 15 37 200 km bogus", ""),
    ("georadius Sicily 15 37 0 km", ""), ("georadius nokey 15 37 200 km", ""),
    ("georadius Sicily 15 37 200 km STORE dst", ""), ("zrange dst 0 -1 withscores", ""),
    ("georadius Sicily 15 37 200 km STOREDIST dst", ""), ("zrange dst 0 -1 withscores", ""),
    ("georadius Sicily 15 37 200 km STORE dst WITHDIST", ""),
    ("georadius Sicily 15 37 1 km STORE dst", ""), ("exists dst", ""),
    ("georadius nokey 15 37 200 km STORE Sicily2", ""), ("set strdst v", ""),
    ("georadius nokey 15 37 200 km STORE strdst", ""), ("exists strdst", ""),
    ("georadius_ro Sicily 15 37 200 km WITHDIST", ""), ("georadius_ro Sicily 15 37 200 km STORE d", ""),
    ("georadiusbymember Sicily Palermo 200 km WITHDIST", ""),
    ("georadiusbymember Sicily Palermo 100 km", ""), ("georadiusbymember Sicily nosuch 100 km", ""),
    ("georadiusbymember nokey nosuch 100 km", ""), ("georadiusbymember nokey nosuch x y", ""),
    ("georadiusbymember Sicily Palermo 200 km STOREDIST dst", ""), ("zrange dst 0 -1 withscores", ""),
    ("georadiusbymember_ro Sicily Palermo 200 km WITHCOORD", ""),
    ("georadiusbymember_ro Sicily Palermo 200 km STORE d", ""),
    # GEOSEARCH and GEOSEARCHSTORE
    ("geoadd Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX 400 400 km", ""),
    ("geosearch Sicily FROMMEMBER Palermo BYRADIUS 200 km DESC WITHHASH", ""),
    ("geosearch Sicily FROMMEMBER Palermo BYBOX 1000 1000 km COUNT 2", ""),
    ("geosearch Sicily FROMMEMBER Palermo BYBOX 1000 1000 km COUNT 2 ANY", ""),
    ("geosearch Sicily FROMMEMBER nosuch BYBOX 1 1 km", ""),
    ("geosearch nokey FROMMEMBER nosuch BYBOX 1 1 km", ""),
    ("geosearch Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km", ""),
    ("geosearch Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 1 km", ""),
    ("geosearch Sicily BYRADIUS 1 km BYBOX 1 1 km FROMLONLAT 15 37", ""),
    ("geosearch Sicily BYBOX 1 1 km BYRADIUS 1 km FROMLONLAT 15 37", ""),
    ("geosearch Sicily FROMLONLAT 15 37 WITHDIST", ""), ("geosearch Sicily BYRADIUS 1 km WITHDIST", ""),
    ("GeoSearch Sicily BYRADIUS 1 km WITHDIST", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYRADIUS 1 km STORE d", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYRADIUS 1 km STOREDIST", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX -1 1 km", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX 1 -1 km", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX x 1 km", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX 1 x km", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYBOX 1 1 yd", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ANY", ""),
    ("geosearch Sicily FROMLONLAT 15 37 BYRADIUS", ""),
    ("geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km", ""),
    ("zrange dst 0 -1 withscores", ""),
    ("geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST ASC COUNT 2", ""),
    ("zrange dst 0 -1 withscores", ""),
    ("geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST", ""),
    ("geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STORE x", ""),
    ("geosearchstore dst nokey FROMLONLAT 15 37 BYRADIUS 200 km", ""), ("exists dst", ""),
    ("geosearchstore dst Sicily FROMLONLAT 0 0 BYRADIUS 1 m", ""), ("exists dst", ""),
    # GEOADD options, errors and limits
    ("geoadd g nx 1 1 a", ""), ("geoadd g nx 2 2 a 3 3 b", ""), ("geoadd g xx 4 4 a 5 5 c", ""),
    ("geoadd g ch 4 4 a 6 6 b", ""), ("geoadd g xx ch nx 1 1 a", ""), ("geoadd g 1 1", ""),
    ("geoadd g ch", ""), ("geoadd g gt 1 1 a", ""), ("geoadd g x 1 a", ""), ("geoadd g 1 x a", ""),
    ("geoadd g 181 1 a", ""), ("geoadd g 1 86 a", ""), ("geoadd g -180 -85.05112878 sw", ""),
    ("geoadd g 180 85.05112878 ne", ""), ("geoadd g -180 85.05112878 nw 180 -85.05112878 se", ""),
    ("geoadd g 0 0 zero -0 -0 negzero", ""), ("geopos g sw ne nw se zero negzero", ""),
    ("geohash g sw ne nw se zero negzero", ""), ("zrange g 0 -1 withscores", ""),
    ("geodist g sw ne", ""), ("geodist g nw ne km", ""), ("geodist g zero negzero", ""),
    ("geoadd g 1 1 a 200 1 b", ""), ("geopos g a b", ""), ("set s str", ""), ("geoadd s 1 1 a", ""),
    ("geopos s a", ""), ("geodist s a b", ""), ("geohash s a", ""), ("georadius s 1 1 1 km", ""),
    ("geosearch s frommember a byradius 1 km", ""),
    # a plain sorted set read as GEO
    ("zadd plain 0 z 1 one 4503599627370495 top 4503599627370496 over -5 neg 1.5 frac", ""),
    ("geopos plain z one top over neg frac", ""), ("geohash plain z one top over neg frac", ""),
    ("geodist plain z top", ""),
    # large areas: neighbouring cells coincide
    ("geoadd w 0 0 o 179 0 e 90 45 n -120 -60 s 10 80 p 170 -80 q", ""),
    ("georadius w 0 0 20000 km", ""), ("georadius w 0 0 10000 km withdist", ""),
    ("georadius w 0 0 5000 km", ""), ("georadius w 179 0 5000 km", ""),
    ("geosearch w fromlonlat 0 0 bybox 40000 20000 km", ""),
    ("geosearch w fromlonlat 170 -80 byradius 3000 km withdist", ""),
    ("geosearch w fromlonlat 10 84 byradius 1000 km withdist", ""),
    ("georadiusbymember w p 6000 km desc withcoord", ""),
    # near the poles Redis's cells can miss a point inside the radius: so must ours
    ("geoadd pole 101.979 72.659 pt", ""), ("georadius pole 73.899 79.769 1207 km withdist", ""),
    ("geosearch pole fromlonlat 73.899 79.769 bybox 3000 3000 km withdist", ""),
]


def field_cases(rng):
    """A random field of points and searches over it, sorted and unsorted."""
    out = []
    args = ["geoadd", "f"]
    for i in range(400):
        lon = rng.uniform(-180, 180)
        lat = rng.uniform(-85, 85)
        args += ["%.6f" % lon, "%.6f" % lat, "p%d" % i]
    out.append((" ".join(args), ""))
    # a dense cluster too
    args = ["geoadd", "f"]
    for i in range(200):
        args += ["%.6f" % rng.uniform(2.2, 2.5), "%.6f" % rng.uniform(48.7, 49.0), "c%d" % i]
    out.append((" ".join(args), ""))
    for _ in range(60):
        lon, lat = rng.uniform(-180, 180), rng.uniform(-85, 85)
        r = rng.choice([1, 50, 500, 1500, 4000])
        unit = rng.choice(["km", "mi"])
        out.append(("georadius f %.5f %.5f %d %s" % (lon, lat, r, unit), ""))
        out.append(("georadius f %.5f %.5f %d %s withdist asc count 5" % (lon, lat, r, unit), ""))
        w, h = rng.choice([10, 300, 2000]), rng.choice([10, 300, 2000])
        out.append(("geosearch f fromlonlat %.5f %.5f bybox %d %d km withdist" % (lon, lat, w, h), ""))
    for _ in range(20):
        lon, lat = rng.uniform(2.2, 2.5), rng.uniform(48.7, 49.0)
        r = rng.choice([0.5, 2, 10, 40])
        out.append(("georadius f %.5f %.5f %s km withdist withhash" % (lon, lat, r), ""))
        out.append(("georadius f %.5f %.5f %s km count 7 any" % (lon, lat, r), ""))
        out.append(("geosearch f frommember c%d bybox %s %s km desc withcoord" %
                    (rng.randrange(200), r, r * 2), ""))
    out.append(("geodist f p1 p2", ""))
    out.append(("geopos f p1 p2 c1 c2", ""))
    out.append(("geohash f p1 p2 c1 c2", ""))
    return out


def run(shale, redis, proto, cases):
    diffs = 0
    for case, mode in cases:
        args = shlex.split(case)
        a = shale.call(*args)
        b = redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %r\n  redis: %r" % (proto, case[:200], a, b))
    return diffs


def main():
    seed = int(os.environ.get("SHALE_SEED", time.time()))
    print("seed %d (SHALE_SEED replays it)" % seed)
    cases = CASES + field_cases(random.Random(seed))
    diffs = run_oracle(lambda shale, redis, proto: run(shale, redis, proto, cases))
    return oracle_exit(diffs, "%d GEO commands" % len(cases))

if __name__ == "__main__":
    sys.exit(main())
