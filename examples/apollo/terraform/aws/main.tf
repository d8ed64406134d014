# Apollo on Amazon EC2: three masters (Mesos master, Marathon, ZooKeeper)
# from the AMI packer/ubuntu-14.04_amd64-amis.json builds, in their own VPC.
#
# Needs network access (terraform init downloads the hashicorp/aws provider)
# and credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or a profile)
# and an EC2 key pair named by `key_name`. Not run by the tests.

terraform {
  required_version = ">= 1.4"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "target" {
  description = "The deploy target's name (tags every resource)."
  type        = string
  default     = "aws"
}

variable "region" {
  description = "The AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "artifact_version" {
  description = "Which Apollo AMI to deploy (its apollo_version tag); empty for the newest."
  type        = string
  default     = ""
}

variable "master_count" {
  description = "Number of masters (an odd number: ZooKeeper needs a majority)."
  type        = number
  default     = 3
}

variable "instance_type" {
  description = "EC2 instance type of the masters."
  type        = string
  default     = "m3.medium"
}

variable "key_name" {
  description = "The EC2 key pair ansible connects with."
  type        = string
}

variable "admin_cidr" {
  description = "Where ssh and the Marathon UI may be reached from."
  type        = string
  default     = "0.0.0.0/0"
}

data "aws_ami" "apollo" {
  most_recent = true
  owners      = ["self"]

  filter {
    name   = "name"
    values = ["apollo-ubuntu-14.04-amd64-*"]
  }

  dynamic "filter" {
    for_each = var.artifact_version == "" ? [] : [var.artifact_version]
    content {
      name   = "tag:apollo_version"
      values = [filter.value]
    }
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "apollo" {
  cidr_block           = "10.0.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "apollo-${var.target}" }
}

resource "aws_internet_gateway" "apollo" {
  vpc_id = aws_vpc.apollo.id
  tags   = { Name = "apollo-${var.target}" }
}

resource "aws_subnet" "masters" {
  vpc_id                  = aws_vpc.apollo.id
  cidr_block              = "10.0.1.0/24"
  availability_zone       = data.aws_availability_zones.available.names[0]
  map_public_ip_on_launch = true
  tags                    = { Name = "apollo-${var.target}-masters" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.apollo.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.apollo.id
  }
}

resource "aws_route_table_association" "masters" {
  subnet_id      = aws_subnet.masters.id
  route_table_id = aws_route_table.public.id
}

resource "aws_security_group" "masters" {
  name        = "apollo-${var.target}-masters"
  description = "Apollo masters: ssh and Marathon from admin_cidr, everything inside the VPC"
  vpc_id      = aws_vpc.apollo.id

  ingress {
    description = "ssh"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.admin_cidr]
  }

  ingress {
    description = "Marathon"
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = [var.admin_cidr]
  }

  ingress {
    description = "inside the cluster"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [aws_vpc.apollo.cidr_block]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "master" {
  count                  = var.master_count
  ami                    = data.aws_ami.apollo.id
  instance_type          = var.instance_type
  key_name               = var.key_name
  subnet_id              = aws_subnet.masters.id
  private_ip             = cidrhost(aws_subnet.masters.cidr_block, 10 + count.index)
  vpc_security_group_ids = [aws_security_group.masters.id]

  tags = {
    Name = "apollo-${var.target}-master-${count.index + 1}"
    role = "mesos_masters"
  }
}

# The target's ansible inventory (group mesos_masters), next to the local
# cloud's in .run/<target>/, so the pipeline's converge works unchanged.
resource "terraform_data" "inventory" {
  input = {
    path    = abspath("${path.module}/../../.run/${var.target}/inventory")
    content = "[mesos_masters]\n${join("\n", [for ip in aws_instance.master[*].public_ip : "${ip} ansible_user=ubuntu"])}\n"
  }

  provisioner "local-exec" {
    command = "mkdir -p \"$(dirname \"$INVENTORY\")\" && printf '%s' \"$CONTENT\" > \"$INVENTORY\""
    environment = {
      INVENTORY = self.input.path
      CONTENT   = self.input.content
    }
  }
}
