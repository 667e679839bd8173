"""The paper's phases, one module each: prepare (data), pretrained (the starting MLM), intermediate
(English intermediate-task training), target (XTREME target training and zero-shot prediction;
retrieval straight from the encoder), evaluate (XTREME scoring), aggregate (tables), verify."""
