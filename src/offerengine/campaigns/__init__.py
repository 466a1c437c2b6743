"""Campaigns: promotions granted to an audience as personal coupons, with a holdout that measures them (issue 33)."""
