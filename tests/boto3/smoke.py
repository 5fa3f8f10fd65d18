"""boto3 against ecache: create, wait, describe, tag, modify, events, errors, delete.

Needs ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment; exits non-zero on the
first failed check.
"""
import os
import sys

import boto3
from botocore.config import Config

ec = boto3.client(
    "elasticache",
    endpoint_url=os.environ["ENDPOINT"],
    region_name="eu-central-1",
    config=Config(retries={"max_attempts": 3}),
)
fast = {"Delay": 1, "MaxAttempts": 60}


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


out = ec.create_cache_cluster(
    CacheClusterId="boto", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1,
    Tags=[{"Key": "team", "Value": "cache"}],
)
check(out["CacheCluster"]["CacheClusterStatus"] == "creating", "status after create")
ec.get_waiter("cache_cluster_available").wait(CacheClusterId="boto", WaiterConfig=fast)
cl = ec.describe_cache_clusters(CacheClusterId="boto", ShowCacheNodeInfo=True)["CacheClusters"][0]
check(cl["CacheNodes"][0]["Endpoint"]["Port"] > 0, "node endpoint")
check(cl["ARN"].startswith("arn:aws:elasticache:eu-central-1:"), "ARN region: " + cl["ARN"])
tags = ec.list_tags_for_resource(ResourceName=cl["ARN"])["TagList"]
check(tags == [{"Key": "team", "Value": "cache"}], "tags: %r" % tags)

try:
    ec.create_cache_cluster(CacheClusterId="boto", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    check(False, "duplicate create succeeded")
except ec.exceptions.CacheClusterAlreadyExistsFault as e:
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, "duplicate status")
try:
    ec.describe_cache_clusters(CacheClusterId="nope")
    check(False, "describe of a missing cluster succeeded")
except ec.exceptions.CacheClusterNotFoundFault as e:
    check(e.response["Error"]["Code"] == "CacheClusterNotFound", "not-found code")

pg = ec.describe_cache_parameters(CacheParameterGroupName="default.redis7")
check(any(p["ParameterName"] == "maxmemory-policy" for p in pg["Parameters"]), "default parameters")
versions = ec.describe_cache_engine_versions(Engine="redis")["CacheEngineVersions"]
check(len(versions) > 0, "engine versions")
events = [e["Message"] for e in ec.describe_events(SourceIdentifier="boto", SourceType="cache-cluster")["Events"]]
check("Cache cluster created" in events, "events: %r" % events)

ec.delete_cache_cluster(CacheClusterId="boto")
ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId="boto", WaiterConfig=fast)
print("boto3 smoke passed")
