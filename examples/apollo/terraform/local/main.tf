# Apollo's "local" cloud: the platform's stand-in services run as processes
# on 127.0.0.1 instead of virtual machines. Only terraform's built-in
# resources are used (terraform_data + local-exec), so `terraform init` needs
# no network and no credentials.
#
# Every target gets its own ports (derived from `port_base`), run directory
# and workspace, so several targets can be applied in parallel:
#
#   marathon   port_base + 80
#   zookeeper  port_base + 81 .. port_base + 80 + zookeeper_count
#   haproxy    a container without network (only with `docker_image`)
#
# Create starts a service (it detaches once it listens and has written its
# pid file); destroy stops it (SIGTERM, then SIGKILL after 10 s) and renames
# the pid file to <name>.pid.stopped, a record of what ran.

terraform {
  required_version = ">= 1.4"
}

variable "target" {
  description = "The target's name (the for_each value, e.g. local-a): names the run directory."
  type        = string
  default     = "local"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.target))
    error_message = "The target name may only hold letters, digits, '.', '_' and '-'."
  }
}

variable "port_base" {
  description = "First port of this target's block of 100 ports."
  type        = number
  default     = 18000

  validation {
    condition     = var.port_base >= 1024 && var.port_base <= 65400
    error_message = "port_base must be between 1024 and 65400."
  }
}

variable "zookeeper_count" {
  description = "How many ZooKeeper stand-ins (Apollo's masters run 3)."
  type        = number
  default     = 3
}

variable "docker_image" {
  description = "An image with busybox to run the HAProxy stand-in in a container; empty: no container (no Docker engine)."
  type        = string
  default     = ""
}

variable "python" {
  description = "The Python interpreter that runs the stand-ins."
  type        = string
  default     = "python3"
}

locals {
  run_dir        = abspath("${path.module}/../../.run/${var.target}")
  services_dir   = abspath("${path.module}/../../services")
  config_dir     = "${local.run_dir}/etc"
  hostname       = "127.0.0.1"
  marathon_port  = var.port_base + 80
  zookeeper_port = [for i in range(var.zookeeper_count) : var.port_base + 81 + i]
  peers          = [for p in local.zookeeper_port : "${local.hostname}:${p}"]
  # Unique per target and port block: two runs of the same target name on
  # different ports (parallel test runs) do not clash.
  haproxy_name = "apollo-${var.target}-${var.port_base}-haproxy"
}

# The run directory (pid files, logs, the configuration ansible writes) and
# the target's ansible inventory: the masters are this machine.
#
# Its destroy runs last (every service depends on it) and sweeps the run
# directory (sweep.sh): a service whose create provisioner was interrupted
# is tainted, and terraform destroys tainted resources without running
# their destroy provisioners — the sweep still stops what they started, by
# the records each provisioner keeps before it starts anything.
resource "terraform_data" "run_dir" {
  input = local.run_dir

  provisioner "local-exec" {
    command = "mkdir -p \"$RUN_DIR/etc/haproxy\" \"$RUN_DIR/log\" && printf '[mesos_masters]\\nlocalhost ansible_connection=local\\n' > \"$RUN_DIR/inventory\""
    environment = {
      RUN_DIR = self.input
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh \"$SWEEP\" \"$RUN_DIR\""
    environment = {
      SWEEP   = abspath("${path.module}/sweep.sh")
      RUN_DIR = self.input
    }
  }
}

resource "terraform_data" "zookeeper" {
  count = var.zookeeper_count

  input = {
    name    = "zookeeper-${count.index + 1}"
    pidfile = "${local.run_dir}/zookeeper-${count.index + 1}.pid"
    log     = "${local.run_dir}/log/zookeeper-${count.index + 1}.log"
    port    = local.zookeeper_port[count.index]
    stop    = abspath("${path.module}/stop-service.sh")
    run_dir = terraform_data.run_dir.output
  }

  provisioner "local-exec" {
    command = "\"$PYTHON\" \"$SERVICES/zookeeper.py\" --daemon --host \"$HOST\" --port \"$PORT\" --myid \"$MYID\" --config-dir \"$CONFIG_DIR\" --pidfile \"$PIDFILE\" --log \"$LOG\""
    environment = {
      PYTHON     = var.python
      SERVICES   = local.services_dir
      HOST       = local.hostname
      PORT       = self.input.port
      MYID       = count.index + 1
      CONFIG_DIR = local.config_dir
      PIDFILE    = self.input.pidfile
      LOG        = self.input.log
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh \"$STOP\" \"$PIDFILE\" \"$NAME\""
    environment = {
      STOP    = self.input.stop
      PIDFILE = self.input.pidfile
      NAME    = self.input.name
    }
  }
}

resource "terraform_data" "marathon" {
  input = {
    name    = "marathon"
    pidfile = "${local.run_dir}/marathon.pid"
    log     = "${local.run_dir}/log/marathon.log"
    port    = local.marathon_port
    stop    = abspath("${path.module}/stop-service.sh")
    run_dir = terraform_data.run_dir.output
  }

  # Marathon needs its ZooKeeper ensemble.
  depends_on = [terraform_data.zookeeper]

  provisioner "local-exec" {
    command = "\"$PYTHON\" \"$SERVICES/marathon.py\" --daemon --host \"$HOST\" --port \"$PORT\" --zk \"$ZK\" --config-dir \"$CONFIG_DIR\" --pidfile \"$PIDFILE\" --log \"$LOG\""
    environment = {
      PYTHON     = var.python
      SERVICES   = local.services_dir
      HOST       = local.hostname
      PORT       = self.input.port
      ZK         = join(",", local.peers)
      CONFIG_DIR = local.config_dir
      PIDFILE    = self.input.pidfile
      LOG        = self.input.log
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh \"$STOP\" \"$PIDFILE\" \"$NAME\""
    environment = {
      STOP    = self.input.stop
      PIDFILE = self.input.pidfile
      NAME    = self.input.name
    }
  }
}

# Apollo runs its edge services in containers: when a Docker engine is
# reachable (the pipeline then sets docker_image), an HAProxy stand-in runs
# as a container — busybox httpd on the container's port 80 serving what the
# converge writes to <config_dir>/haproxy (mounted at /www). It has no
# network (`--network none`: nothing to publish, works where the engine has
# no IP forwarding); checks reach it with `docker exec` (host-checks'
# docker backend).
resource "terraform_data" "haproxy" {
  count = var.docker_image == "" ? 0 : 1

  input = {
    name    = local.haproxy_name
    image   = var.docker_image
    www     = "${terraform_data.run_dir.output}/etc/haproxy"
    run_dir = terraform_data.run_dir.output
  }

  # The container's name is recorded before it starts (sweep.sh removes it
  # even when this resource never reaches the state).
  provisioner "local-exec" {
    command = "echo \"$NAME\" >> \"$RUN_DIR/containers\" && docker rm -f \"$NAME\" >/dev/null 2>&1; docker run -d --name \"$NAME\" --label stepwise.example=apollo --network none -v \"$WWW:/www:ro\" \"$IMAGE\" httpd -f -p 80 -h /www"
    environment = {
      NAME    = self.input.name
      IMAGE   = self.input.image
      WWW     = self.input.www
      RUN_DIR = self.input.run_dir
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker rm -f \"$NAME\" >/dev/null 2>&1 || true; echo \"$NAME: removed\""
    environment = {
      NAME = self.input.name
    }
  }
}
