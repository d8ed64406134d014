# What later steps read as ${{ outputs.<id>.<name> }} (ansible's extra
# vars, the host-check specs, the serverspec environment).

output "target" {
  description = "The target these services belong to."
  value       = var.target
}

output "marathon_hostname" {
  description = "Where Marathon answers (the seed's marathon_hostname)."
  value       = local.hostname
}

output "marathon_port" {
  description = "Marathon's HTTP port."
  value       = local.marathon_port
}

output "marathon_url" {
  description = "Marathon's base URL."
  value       = "http://${local.hostname}:${local.marathon_port}"
}

output "marathon_peers" {
  description = "The ZooKeeper ensemble as host:port (the seed's marathon_peers)."
  value       = local.peers
}

output "zookeeper_ports" {
  description = "The ZooKeeper stand-ins' ports."
  value       = local.zookeeper_port
}

output "containers" {
  description = "The target's containers (empty without a Docker engine)."
  value       = [for h in terraform_data.haproxy : h.output.name]
}

output "run_dir" {
  description = "This target's run directory: pid files, logs, configuration."
  value       = local.run_dir
}

output "inventory" {
  description = "The target's ansible inventory (group mesos_masters)."
  value       = "${terraform_data.run_dir.output}/inventory"
}

output "config_dir" {
  description = "Where the ansible converge writes the services' configuration."
  value       = local.config_dir
}

output "pid_files" {
  description = "The services' pid files (renamed to *.pid.stopped on destroy)."
  value       = concat([for z in terraform_data.zookeeper : z.output.pidfile], [terraform_data.marathon.output.pidfile])
}
