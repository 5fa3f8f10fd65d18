#!/usr/bin/env bash
# The README quickstart with the AWS CLI, asserting each step. Needs ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION in the environment.
set -euo pipefail
E=(--endpoint-url "$ENDPOINT" --output text)
fail() { echo "FAIL: $*" >&2; exit 1; }

# resp sends one RESP command line to host:port and prints the first reply line.
resp() {
  exec 3<>"/dev/tcp/$1/$2"
  printf '%s\r\n' "$3" >&3
  IFS= read -r -t 5 line <&3 || true
  exec 3<&-
  printf '%s\n' "${line%$'\r'}"
}

status=$(aws elasticache create-cache-cluster "${E[@]}" --cache-cluster-id demo --engine redis \
  --cache-node-type cache.t3.micro --num-cache-nodes 1 --query CacheCluster.CacheClusterStatus)
[ "$status" = creating ] || fail "create returned status $status"
aws elasticache wait cache-cluster-available "${E[@]}" --cache-cluster-id demo
read -r host port < <(aws elasticache describe-cache-clusters "${E[@]}" --show-cache-node-info \
  --cache-cluster-id demo --query 'CacheClusters[0].CacheNodes[0].Endpoint.[Address,Port]')
[ "$(resp "$host" "$port" 'SET hello world')" = "+OK" ] || fail "SET on $host:$port"
[ "$(resp "$host" "$port" 'GET hello')" = '$5' ] || fail "GET on $host:$port"

aws elasticache create-cache-cluster "${E[@]}" --cache-cluster-id mc --engine memcached \
  --cache-node-type cache.t3.micro --num-cache-nodes 3 >/dev/null
aws elasticache wait cache-cluster-available "${E[@]}" --cache-cluster-id mc
read -r chost cport < <(aws elasticache describe-cache-clusters "${E[@]}" --cache-cluster-id mc \
  --query 'CacheClusters[0].ConfigurationEndpoint.[Address,Port]')
exec 3<>"/dev/tcp/$chost/$cport"
printf 'config get cluster\r\n' >&3
IFS= read -r -t 5 header <&3; IFS= read -r -t 5 version <&3; IFS= read -r -t 5 nodes <&3
exec 3<&-
[[ "$header" == "CONFIG cluster 0 "* ]] || fail "config get cluster header: $header"
[ "$(wc -w <<<"$nodes")" -eq 3 ] || fail "config get cluster lists: $nodes"

aws elasticache delete-cache-cluster "${E[@]}" --cache-cluster-id demo >/dev/null
aws elasticache delete-cache-cluster "${E[@]}" --cache-cluster-id mc >/dev/null
aws elasticache wait cache-cluster-deleted "${E[@]}" --cache-cluster-id demo
aws elasticache wait cache-cluster-deleted "${E[@]}" --cache-cluster-id mc
if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then fail "engine still listening on $host:$port"; fi
echo "quickstart passed"
