"""A dataset's health (``edgeops inspect``, the review page's suggestions): exact and near
duplicates, near duplicates straddling splits, suspected label errors, class imbalance and
unlabelled images. Features come from a backend that can compute them (``ImageFeatures``);
numpy is imported only when they are judged."""
