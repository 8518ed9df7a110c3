# By the EKS cluster's name. Import reads the record apply keeps in the cluster
# (ConfigMap kube-system/platformkit-cluster-services); the provider reaches the cluster through
# its `kubernetes` block when set, else through EKS DescribeCluster.
terraform import platform_cluster_services.prod project-a-prod
