"""Differential privacy: clipping, noise, hospital sampling, DP-SGD and accounting.

Client-level DP follows DP-FedAvg (McMahan, Ramage, Talwar and Zhang, "Learning
Differentially Private Recurrent Language Models", ICLR 2018, Algorithm 1);
sample-level DP-SGD follows Abadi et al. (CCS 2016, Algorithm 1). Every epsilon
comes from Google's ``dp-accounting`` library; nothing here evaluates a privacy
formula by hand. See ``docs/privacy.md`` for what each mode guarantees.
"""
