output "name" {
  description = "The environment name (also the import id)."
  value       = platform_environment.this.name
}

output "vpc_id" {
  description = "The VPC id."
  value       = platform_environment.this.vpc_id
}

output "vpc_cidr" {
  description = "The VPC CIDR."
  value       = platform_environment.this.vpc_cidr
}

output "availability_zones" {
  description = "The environment's availability zones."
  value       = platform_environment.this.availability_zones
}

output "private_subnet_ids" {
  description = "Private subnet id by AZ: where workloads, nodes and databases go."
  value       = platform_environment.this.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnet id by AZ: for internet-facing load balancers only."
  value       = platform_environment.this.public_subnet_ids
}

output "private_subnet_cidrs" {
  description = "Private subnet CIDR by AZ."
  value       = platform_environment.this.private_subnet_cidrs
}

output "public_subnet_cidrs" {
  description = "Public subnet CIDR by AZ."
  value       = platform_environment.this.public_subnet_cidrs
}

output "nat_public_ips" {
  description = "NAT gateway public IP by AZ: the addresses outbound traffic comes from (for partner allow-lists)."
  value       = platform_environment.this.nat_public_ips
}

output "private_route_table_ids" {
  description = "Private route table id by AZ (for VPC endpoints and peering routes)."
  value       = platform_environment.this.private_route_table_ids
}

output "public_route_table_id" {
  description = "The public route table id."
  value       = platform_environment.this.public_route_table_id
}

output "flow_log_group_name" {
  description = "The CloudWatch log group receiving the VPC flow logs."
  value       = platform_environment.this.flow_log_group_name
}

output "flow_log_id" {
  description = "The VPC flow log id."
  value       = platform_environment.this.flow_log_id
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = platform_environment.this.cluster_name
}

output "cluster_endpoint" {
  description = "The cluster's Kubernetes API endpoint."
  value       = platform_environment.this.cluster_endpoint
}

output "cluster_certificate_authority" {
  description = "Base64 CA data of the API endpoint."
  value       = platform_environment.this.cluster_certificate_authority
}

output "oidc_issuer_url" {
  description = "The cluster's OIDC issuer URL, for IRSA trust policies."
  value       = platform_environment.this.oidc_issuer_url
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider, for IRSA trust policies."
  value       = platform_environment.this.oidc_provider_arn
}

output "node_role_arn" {
  description = "ARN of the node IAM role."
  value       = platform_environment.this.node_role_arn
}

output "node_security_group_id" {
  description = "The node security group (the database trusts it)."
  value       = platform_environment.this.node_security_group_id
}

output "cluster_log_group_name" {
  description = "Log group of the EKS control-plane logs."
  value       = platform_environment.this.cluster_log_group_name
}

output "database_endpoint" {
  description = "The database's DNS address."
  value       = platform_environment.this.database_endpoint
}

output "database_port" {
  description = "The database's port."
  value       = platform_environment.this.database_port
}

output "database_master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret with the master password (never the password itself)."
  value       = platform_environment.this.database_master_user_secret_arn
}

output "database_security_group_id" {
  description = "The database security group."
  value       = platform_environment.this.database_security_group_id
}
