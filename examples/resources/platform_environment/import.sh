terraform import platform_environment.prod project-a-prod
