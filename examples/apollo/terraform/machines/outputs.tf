# What later steps read as ${{ outputs.<id>.<name> }}: the converge's
# inventory and extra vars, the host checks' hosts, the serverspec suite.

output "target" {
  description = "The target these machines belong to."
  value       = var.target
}

output "run_id" {
  description = "The run these machines belong to (their stepwise.run label)."
  value       = var.run_id
}

output "network" {
  description = "The target's private docker network."
  value       = terraform_data.network.output.name
}

output "machines" {
  description = "Every machine by hostname: role and address."
  value       = { for h, m in terraform_data.machine : h => { role = m.output.role, address = m.output.address, container = m.output.name } }
}

output "addresses" {
  description = "Every machine's address."
  value       = [for h, m in terraform_data.machine : m.output.address]
}

output "roles" {
  description = "Each machine's role (inventory group), by address."
  value       = { for h, m in terraform_data.machine : m.output.address => m.output.role }
}

output "hostnames" {
  description = "Each machine's hostname, by address."
  value       = { for h, m in terraform_data.machine : m.output.address => h }
}

output "master_ips" {
  description = "The masters' addresses."
  value       = local.masters
}

output "load_balancer_ips" {
  description = "The load balancers' addresses."
  value       = [for h, m in terraform_data.machine : m.output.address if m.output.role == "load_balancers"]
}

output "marathon_hostname" {
  description = "Where Marathon's leader answers: the first master."
  value       = local.masters[0]
}

output "marathon_port" {
  description = "Marathon's HTTP port on every master."
  value       = local.marathon_port
}

output "marathon_url" {
  description = "Marathon's base URL (the first master)."
  value       = "http://${local.masters[0]}:${local.marathon_port}"
}

output "marathon_peers" {
  description = "The ZooKeeper ensemble as host:port (the seed's marathon_peers)."
  value       = [for a in local.masters : "${a}:${local.zookeeper_port}"]
}

output "config_dir" {
  description = "Where the converge writes the services' configuration, on every machine."
  value       = "/etc/apollo"
}

output "containers" {
  description = "Containers to check from the host with docker exec: none (the machines are reached over ssh)."
  value       = []
}

output "inventory" {
  description = "The ansible inventory: groups mesos_masters, mesos_slaves, load_balancers."
  value       = terraform_data.inventory.output.path
}

output "ssh_user" {
  description = "The user ansible and the checks log in as (passwordless sudo)."
  value       = "apollo"
}

output "ssh_key" {
  description = "The run's private key (removed on destroy)."
  value       = local.key
}

output "state_dir" {
  description = "This run's directory: key pair, inventory, created.list."
  value       = local.state_dir
}
