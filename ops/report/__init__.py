"""Reports: JSON for machines, Markdown for reviews, HTML with charts for people."""
