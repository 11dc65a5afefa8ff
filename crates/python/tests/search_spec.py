"""A small capacity search shared by the search tests: four configurations (TP 1 or 2 ×
vllm_v1 or sarathi), the highest QPS whose TTFT p90 stays under half a second."""

SPEC = {
    "base": {
        "replica_config_model_name": "meta-llama/Meta-Llama-3-8B",
        "replica_config_device": "h100",
        "replica_config_network_device": "h100_dgx",
        "cluster_config_num_replicas": 1,
    },
    "space": {
        "replica_config_tensor_parallel_size": [1, 2],
        "replica_scheduler_config_type": ["vllm_v1", "sarathi"],
    },
    "slos": [{"metric": "ttft", "quantile": 0.9, "max_s": 0.5}],
    "goal": "max_qps",
    "qps": 4.0,
    "qps_granularity": 0.1,
    "num_requests": 200,
}
