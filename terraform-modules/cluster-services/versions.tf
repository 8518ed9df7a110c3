terraform {
  # 1.0 is the oldest release this module is tested with. Nothing newer is used on purpose:
  # no optional() attribute defaults (1.3), no `nullable` (1.1), no import/check blocks (1.5/1.7).
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }
}
