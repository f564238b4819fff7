"""Statistics and supervision (统计与监督) over the loans a scope can see."""
