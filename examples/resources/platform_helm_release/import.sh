terraform import platform_helm_release.mobile apps/mobile-service
