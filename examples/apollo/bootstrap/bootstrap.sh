#!/usr/bin/env bash
# Apollo's image bootstrap, run by packer (packer/*.json) inside a fresh
# Ubuntu 14.04 machine as root: installs the platform's packages at the
# versions the template pins. Configuration happens later, per cluster, in
# the ansible converge (site.yml) — the image only carries the software.
#
# Needs network access to the Ubuntu, Mesosphere and Docker archives; it is
# never run by the local cloud.
set -euo pipefail

# shellcheck source=bootstrap/functions.sh
. "${BOOTSTRAP_FUNCTIONS:-$(dirname "$0")/functions.sh}"

: "${MESOS_VERSION:?}" "${MARATHON_VERSION:?}" "${DOCKER_VERSION:?}" "${CONSUL_VERSION:?}" "${WEAVE_VERSION:?}"

export DEBIAN_FRONTEND=noninteractive

apt-key adv --keyserver hkp://keyserver.ubuntu.com:80 --recv E56151BF
echo "deb http://repos.mesosphere.io/ubuntu trusty main" >/etc/apt/sources.list.d/mesosphere.list
apt-get update -q
apt-get install -y -q --no-install-recommends \
    curl unzip dnsmasq haproxy zookeeperd \
    "mesos=${MESOS_VERSION}" "marathon=${MARATHON_VERSION}"

curl -fsSL "https://get.docker.com/builds/Linux/x86_64/docker-${DOCKER_VERSION}" -o /usr/local/bin/docker
chmod 0755 /usr/local/bin/docker

curl -fsSL "https://releases.hashicorp.com/consul/${CONSUL_VERSION}/consul_${CONSUL_VERSION}_linux_amd64.zip" -o /tmp/consul.zip
unzip -o /tmp/consul.zip -d /usr/local/bin
rm -f /tmp/consul.zip

curl -fsSL "https://github.com/weaveworks/weave/releases/download/v${WEAVE_VERSION}/weave" -o /usr/local/bin/weave
chmod 0755 /usr/local/bin/weave

# Services start only once the converge has configured them.
for svc in mesos-master mesos-slave marathon zookeeper; do
    echo manual >"/etc/init/$svc.override"
done

env_file_set /etc/apollo-release APOLLO_MESOS_VERSION "$MESOS_VERSION"
env_file_set /etc/apollo-release APOLLO_MARATHON_VERSION "$MARATHON_VERSION"
env_file_set /etc/apollo-release APOLLO_DOCKER_VERSION "$DOCKER_VERSION"
echo "bootstrap done: mesos $MESOS_VERSION, marathon $MARATHON_VERSION, docker $DOCKER_VERSION"
