"""职工之家: the WeChat worker-service bot of a city trade-union federation."""
