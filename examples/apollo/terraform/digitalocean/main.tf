# Apollo on DigitalOcean: three masters from the droplet snapshot
# packer/ubuntu-14.04_amd64-droplet.json builds, in one private network.
#
# Needs network access (terraform init downloads the digitalocean provider)
# and credentials: DIGITALOCEAN_TOKEN (the provider reads it) and the
# fingerprint of an ssh key registered with DigitalOcean (`ssh_key`). Not run
# by the tests.

terraform {
  required_version = ">= 1.4"
  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "~> 2.0"
    }
  }
}

provider "digitalocean" {}

variable "target" {
  description = "The deploy target's name (tags every droplet)."
  type        = string
  default     = "digitalocean"
}

variable "region" {
  description = "The DigitalOcean region."
  type        = string
  default     = "ams3"
}

variable "snapshot_name" {
  description = "The Apollo snapshot to boot (packer's snapshot_name)."
  type        = string
  default     = "apollo-ubuntu-14.04-amd64"
}

variable "master_count" {
  description = "Number of masters (an odd number: ZooKeeper needs a majority)."
  type        = number
  default     = 3
}

variable "size" {
  description = "Droplet size of the masters."
  type        = string
  default     = "s-1vcpu-2gb"
}

variable "ssh_key" {
  description = "Fingerprint or id of the ssh key ansible connects with."
  type        = string
}

data "digitalocean_images" "apollo" {
  filter {
    key      = "name"
    values   = [var.snapshot_name]
    match_by = "substring"
  }
  filter {
    key    = "private"
    values = ["true"]
  }
  sort {
    key       = "created"
    direction = "desc"
  }
}

resource "digitalocean_vpc" "apollo" {
  name     = "apollo-${var.target}"
  region   = var.region
  ip_range = "10.10.10.0/24"
}

resource "digitalocean_droplet" "master" {
  count    = var.master_count
  name     = "apollo-${var.target}-master-${count.index + 1}"
  image    = data.digitalocean_images.apollo.images[0].id
  region   = var.region
  size     = var.size
  vpc_uuid = digitalocean_vpc.apollo.id
  ssh_keys = [var.ssh_key]
  tags     = ["apollo", "mesos-masters", var.target]
}

resource "digitalocean_firewall" "masters" {
  name        = "apollo-${var.target}-masters"
  droplet_ids = digitalocean_droplet.master[*].id

  inbound_rule {
    protocol         = "tcp"
    port_range       = "22"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "8080"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "1-65535"
    source_addresses = [digitalocean_vpc.apollo.ip_range]
  }

  outbound_rule {
    protocol              = "tcp"
    port_range            = "1-65535"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }

  outbound_rule {
    protocol              = "udp"
    port_range            = "1-65535"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }
}

# The target's ansible inventory (group mesos_masters), next to the local
# cloud's in .run/<target>/, so the pipeline's converge works unchanged.
resource "terraform_data" "inventory" {
  input = {
    path    = abspath("${path.module}/../../.run/${var.target}/inventory")
    content = "[mesos_masters]\n${join("\n", [for ip in digitalocean_droplet.master[*].ipv4_address : "${ip} ansible_user=root"])}\n"
  }

  provisioner "local-exec" {
    command = "mkdir -p \"$(dirname \"$INVENTORY\")\" && printf '%s' \"$CONTENT\" > \"$INVENTORY\""
    environment = {
      INVENTORY = self.input.path
      CONTENT   = self.input.content
    }
  }
}
