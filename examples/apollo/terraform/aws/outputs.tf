# The same output names as terraform/local, so the pipeline, ansible and the
# host-check specs work unchanged on every cloud.

output "target" {
  description = "The target these machines belong to."
  value       = var.target
}

output "master_ips" {
  description = "Public addresses of the masters (ansible's inventory)."
  value       = aws_instance.master[*].public_ip
}

output "marathon_hostname" {
  description = "Where Marathon answers."
  value       = aws_instance.master[0].public_ip
}

output "marathon_port" {
  description = "Marathon's HTTP port."
  value       = 8080
}

output "marathon_url" {
  description = "Marathon's base URL."
  value       = "http://${aws_instance.master[0].public_ip}:8080"
}

output "marathon_peers" {
  description = "The ZooKeeper ensemble as host:port."
  value       = [for m in aws_instance.master : "${m.private_ip}:2181"]
}

output "zookeeper_ports" {
  description = "ZooKeeper's client port on each master."
  value       = [for m in aws_instance.master : 2181]
}

output "inventory" {
  description = "The target's ansible inventory (group mesos_masters)."
  value       = terraform_data.inventory.output.path
}

# The container checks (spec/containers) are for the local cloud's stand-in
# containers; on a cloud they would run over ssh, not with docker exec.
output "containers" {
  description = "Containers the host checks look for (none here)."
  value       = []
}

output "config_dir" {
  description = "Where the converge writes the services' configuration."
  value       = "/etc"
}
