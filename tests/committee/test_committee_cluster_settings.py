"""The committee cluster's settings: off without Redis; the media node's URL and lease checked."""
from __future__ import annotations

import pytest

from committee.cluster import DEFAULT_LEASE_SECONDS, ClusterSettings, cluster_settings
from core.config import Config


def config(tmp_path, **overrides) -> Config:
    return Config.from_env({"LOANCTL_DATA": str(tmp_path)}, **overrides)


def test_without_redis_one_node_as_before(tmp_path):
    assert cluster_settings(config(tmp_path), {}) is None
    assert cluster_settings(config(tmp_path), {"LOANCTL_REDIS_URL": "  "}) is None


def test_the_node_url_defaults_to_where_it_listens(tmp_path):
    settings = cluster_settings(config(tmp_path, host="10.1.0.21", port=8443),
                                {"LOANCTL_REDIS_URL": "redis://10.1.0.5:6379/0"})
    assert settings == ClusterSettings("redis://10.1.0.5:6379/0", "http://10.1.0.21:8443", DEFAULT_LEASE_SECONDS)
    given = cluster_settings(config(tmp_path, host="0.0.0.0"), {
        "LOANCTL_REDIS_URL": "redis://r/0", "LOANCTL_MEDIA_NODE_URL": "https://cm2.bank.local:8443/",
        "LOANCTL_MEDIA_LEASE_SECONDS": "4.5"})
    assert (given.node_url, given.lease_seconds) == ("https://cm2.bank.local:8443", 4.5)


@pytest.mark.parametrize("env, fragment", [
    ({}, "LOANCTL_MEDIA_NODE_URL is required"),  # listening on every address: no URL to give out
    ({"LOANCTL_MEDIA_NODE_URL": "http://cm1:8080", "LOANCTL_MEDIA_LEASE_SECONDS": "soon"}, "number of seconds"),
    ({"LOANCTL_MEDIA_NODE_URL": "http://cm1:8080", "LOANCTL_MEDIA_LEASE_SECONDS": "0"}, "positive"),
])
def test_settings_that_cannot_work_are_refused(tmp_path, env, fragment):
    with pytest.raises(ValueError, match=fragment):
        cluster_settings(config(tmp_path, host="0.0.0.0"), {"LOANCTL_REDIS_URL": "redis://r/0", **env})
