#!/usr/bin/env python3
"""Prints what the test server holds, for the C++ tests to compare records with.

  server_docs.py URI DB lock COLLECTION KEY   the head (highest gen) document of KEY
  server_docs.py URI DB status UUID           the elector.leader_status report of UUID

One "field value" line per field: instants as ms since the Unix epoch,
booleans as true/false, a missing or null value as "null". Exit 77 without pymongo.
"""
import sys

try:
    import pymongo
except ImportError:
    sys.exit(77)


def show(doc):
    if doc is None:
        return
    for k, v in doc.items():
        if v is None:
            v = "null"
        elif isinstance(v, bool):
            v = "true" if v else "false"
        elif hasattr(v, "timestamp"):
            v = round(v.timestamp() * 1000)
        print(k, v)


def main():
    uri, db, what = sys.argv[1:4]
    mc = pymongo.MongoClient(uri, tz_aware=True)
    if what == "lock":
        coll, key = sys.argv[4:6]
        show(mc[db][coll].find_one({"key": key}, sort=[("gen", -1)]))
    else:
        show(mc[db]["elector.leader_status"].find_one({"_id": sys.argv[4]}))


main()
