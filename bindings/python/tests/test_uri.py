"""A pymongo client's settings become a URI the native driver accepts."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from pymongo import MongoClient

from mongoelector import _client


def derive(*args, **kwargs):
    c = MongoClient(*args, connect=False, **kwargs)
    try:
        uri = _client.uri_from_pymongo(c)
    finally:
        c.close()
    _client.Client(uri)  # the native driver parses it (connects lazily)
    parts = urlsplit(uri)
    return uri, parts, dict(parse_qsl(parts.query))


def test_default_client():
    uri, parts, q = derive()
    assert uri == "mongodb://localhost:27017/"


def test_hosts_credentials_and_options():
    uri, parts, q = derive(
        "mongodb://b%40b:p%40ss%3Aw@h1:27017,h2:27018/admin?replicaSet=rs0&serverSelectionTimeoutMS=5000"
        "&appname=me&w=majority&wtimeoutMS=50&readPreference=secondaryPreferred&maxPoolSize=7&retryWrites=false"
        "&localThresholdMS=20&authMechanism=SCRAM-SHA-256",
        connectTimeoutMS=1234,
    )
    assert parts.netloc == "b%40b:p%40ss%3Aw@h1:27017,h2:27018"
    assert q["replicaSet"] == "rs0" and q["serverSelectionTimeoutMS"] == "5000" and q["connectTimeoutMS"] == "1234"
    assert q["appName"] == "me" and q["w"] == "majority" and q["wTimeoutMS"] == "50"
    assert q["readPreference"] == "secondaryPreferred" and q["maxPoolSize"] == "7" and q["retryWrites"] == "false"
    assert q["localThresholdMS"] == "20" and q["authMechanism"] == "SCRAM-SHA-256" and q["authSource"] == "admin"


def test_keyword_credentials_and_tls():
    uri, parts, q = derive(host="db.example", port=27999, username="u", password="p w", tls=True, tlsAllowInvalidCertificates=True)
    assert parts.netloc == "u:p%20w@db.example:27999"
    assert q["tls"] == "true" and q["tlsAllowInvalidCertificates"] == "true" and q["authSource"] == "admin"


def test_tls_insecure_is_passed_alone():
    uri, parts, q = derive("mongodb://h/?tlsInsecure=true")
    assert q["tlsInsecure"] == "true" and "tlsAllowInvalidCertificates" not in q


def test_ipv6_and_read_preference_tags():
    uri, parts, q = derive("mongodb://[::1]:27017/?readPreference=nearest&readPreferenceTags=dc:ny,rack:1&readPreferenceTags=")
    assert "[::1]:27017" in parts.netloc
    assert "readPreferenceTags=dc%3Any%2Crack%3A1" in uri


def test_password_never_in_error_messages():
    from mongoelector import DatabaseError, MongoLocker

    c = MongoClient("mongodb://user:s3cr3t-pw@127.0.0.1:1/?serverSelectionTimeoutMS=300", connect=False)
    lock = MongoLocker("k", c.some_db, ttl=5)
    with pytest.raises(DatabaseError) as ei:
        lock.locked()
    assert "s3cr3t-pw" not in str(ei.value)
    c.close()


def test_one_native_client_per_uri(uri, dbname):
    from mongoelector import MongoLocker

    a = MongoClient(uri)
    b = MongoClient(uri)
    MongoLocker("k", a[dbname])
    MongoLocker("k", b[dbname])
    MongoLocker("k", (_client.uri_from_pymongo(a), dbname))
    assert _client.uri_from_pymongo(a) == _client.uri_from_pymongo(b)
    assert _client.client_for(_client.uri_from_pymongo(a)) is _client.client_for(_client.uri_from_pymongo(b))
    a.close()
    b.close()
