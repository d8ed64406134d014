# Apollo's "machines" cloud: real machines on a private network, as the
# seed's clouds had — here containers from the image the build pipeline's
# packer-build made (apollo/node), each with its own hostname, address and
# sshd. Only terraform's built-in resources are used (terraform_data +
# local-exec calling machines.sh, which drives the docker CLI), so
# `terraform init` needs no network and no credentials.
#
# Per target: one docker network (`subnet`), an ssh key pair for the run,
# 3 masters, 1 slave and 1 load balancer. Every object is labelled
# stepwise.run=<run_id> and stepwise.target=<target>.
#
# Destroy removes by label: `sweeper` is created first and destroyed last,
# and its destroy removes every container and network with the run's
# labels — so a machine whose creation was interrupted (not yet, or only
# tainted, in terraform's state) is removed too.

terraform {
  required_version = ">= 1.4"
}

variable "target" {
  description = "The target's name (the for_each value, e.g. machines-a)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*$", var.target))
    error_message = "The target name may only hold lower-case letters, digits, '.' and '-'."
  }
}

variable "run_id" {
  description = "The run these machines belong to (the runner's RUNNER_RUN_ID): the stepwise.run label."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.run_id))
    error_message = "run_id may only hold letters, digits, '.', '_' and '-'."
  }
}

variable "image" {
  description = "The machines' image: the build pipeline's packer-build artifact (apollo/node)."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image is empty: run the build pipeline (packer-build of apollo/node) first."
  }
}

variable "subnet" {
  description = "The target's private network, a /24 (e.g. 10.213.0.0/24)."
  type        = string

  validation {
    condition     = can(cidrhost(var.subnet, 31)) && endswith(var.subnet, "/24")
    error_message = "subnet must be an IPv4 /24 such as 10.213.0.0/24."
  }
}

variable "masters" {
  description = "How many masters (Apollo's default: 3)."
  type        = number
  default     = 3
}

variable "slaves" {
  description = "How many slaves."
  type        = number
  default     = 1
}

locals {
  run_dir   = abspath("${path.module}/../../.run/${var.target}")
  state_dir = "${local.run_dir}/machines-${var.run_id}"
  key       = "${local.state_dir}/ssh/id_ecdsa"
  script    = abspath("${path.module}/machines.sh")
  prefix    = "apollo-${var.target}-${var.run_id}"
  network   = "${local.prefix}-net"
  machines = merge(
    { for i in range(var.masters) : "master-${i + 1}" => { role = "mesos_masters", address = cidrhost(var.subnet, 11 + i) } },
    { for i in range(var.slaves) : "slave-${i + 1}" => { role = "mesos_slaves", address = cidrhost(var.subnet, 21 + i) } },
    { "lb-1" = { role = "load_balancers", address = cidrhost(var.subnet, 31) } },
  )
  masters        = [for h, m in local.machines : m.address if m.role == "mesos_masters"]
  zookeeper_port = 2181
  marathon_port  = 8080
  env = {
    TARGET    = var.target
    RUN_ID    = var.run_id
    STATE_DIR = local.state_dir
    IMAGE     = var.image
    NETWORK   = local.network
    SUBNET    = var.subnet
    KEY       = local.key
  }
}

# Created first, destroyed last: checks the engine before anything exists,
# and its destroy sweeps everything labelled with this run and target.
resource "terraform_data" "sweeper" {
  input = {
    script    = local.script
    target    = var.target
    run_id    = var.run_id
    state_dir = local.state_dir
  }

  provisioner "local-exec" {
    command     = "sh \"$SCRIPT\" preflight"
    environment = merge(local.env, { SCRIPT = local.script })
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh \"$SCRIPT\" sweep"
    environment = {
      SCRIPT    = self.input.script
      TARGET    = self.input.target
      RUN_ID    = self.input.run_id
      STATE_DIR = self.input.state_dir
    }
  }
}

resource "terraform_data" "network" {
  input      = { name = local.network, subnet = var.subnet, key = local.key }
  depends_on = [terraform_data.sweeper]

  provisioner "local-exec" {
    command     = "sh \"$SCRIPT\" network"
    environment = merge(local.env, { SCRIPT = local.script })
  }
}

resource "terraform_data" "machine" {
  for_each = local.machines

  input = {
    name    = "${local.prefix}-${each.key}"
    host    = each.key
    role    = each.value.role
    address = each.value.address
    network = terraform_data.network.output.name
    script  = local.script
    target  = var.target
    run_id  = var.run_id
    state   = local.state_dir
  }

  provisioner "local-exec" {
    command     = "sh \"$SCRIPT\" machine \"$NAME\" \"$HOST\" \"$ROLE\" \"$ADDRESS\""
    environment = merge(local.env, { SCRIPT = local.script, NAME = self.input.name, HOST = self.input.host, ROLE = self.input.role, ADDRESS = self.input.address })
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh \"$SCRIPT\" remove-machine \"$NAME\""
    environment = {
      SCRIPT    = self.input.script
      NAME      = self.input.name
      TARGET    = self.input.target
      RUN_ID    = self.input.run_id
      STATE_DIR = self.input.state
    }
  }
}

# The ansible inventory: groups by role, reached over ssh with the run's key.
resource "terraform_data" "inventory" {
  input      = { path = "${local.state_dir}/inventory" }
  depends_on = [terraform_data.machine]

  provisioner "local-exec" {
    command = "mkdir -p \"$(dirname \"$INVENTORY\")\" && printf '%s' \"$CONTENT\" > \"$INVENTORY\""
    environment = {
      INVENTORY = self.input.path
      CONTENT = templatefile("${path.module}/inventory.tftpl", {
        machines = local.machines
        key      = local.key
        user     = "apollo"
        masters  = local.masters
      })
    }
  }
}
