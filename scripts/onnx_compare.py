"""Embeddings of the quick pass: torch fp32 / bf16 (segscope's path) against ONNX Runtime fp32 / int8
(dynamic quantisation of the weights), on the same Women's reviews (docs/speed.md, first segments).

ONNX Runtime is not a segscope dependency; for this comparison only, install it aside:
    pip install --no-deps --target /tmp/ortpkgs onnxruntime==1.23.2 onnx flatbuffers ml_dtypes
    PYTHONPATH=.:/tmp/ortpkgs python3 scripts/onnx_compare.py 1000
"""
import sys, time, warnings

import numpy as np, pandas as pd, torch
warnings.filterwarnings("ignore")
import tempfile
TMP = tempfile.mkdtemp(prefix='segscope-onnx-')
from segcore.encoders.models import resolve_model, load_classifier, load_tokenizer
from segcore.encoders.predict import ROW_BLOCK, length_batches, pad_batch, predict, tokenize
d = pd.read_csv('../shared/data/en/womens_clothing_ecommerce_reviews.csv').dropna(subset=['Review Text']).sample(int(sys.argv[1]), random_state=5)
texts = (d['Title'].fillna('') + '. ' + d['Review Text']).tolist()
name = resolve_model('default'); model = load_classifier(name, ['a','b']).eval(); tok = load_tokenizer(name)
class Enc(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m.bert
    def forward(s, ids, mask):
        h = s.m(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float(); return (h*m).sum(1)/m.sum(1).clamp(min=1)
enc = Enc(model).eval()
ids = torch.ones((2, 16), dtype=torch.long); mask = torch.ones_like(ids)
torch.onnx.export(enc, (ids, mask), f'{TMP}/minilm.onnx', input_names=['ids','mask'], output_names=['emb'],
                  dynamic_axes={'ids':{0:'b',1:'s'}, 'mask':{0:'b',1:'s'}, 'emb':{0:'b'}}, opset_version=17, dynamo=False)
from onnxruntime.quantization import quantize_dynamic, QuantType
quantize_dynamic(f'{TMP}/minilm.onnx', f'{TMP}/minilm_int8.onnx', weight_type=QuantType.QInt8)
import onnxruntime as ort
def session(path):
    o = ort.SessionOptions(); o.intra_op_num_threads = 2; o.inter_op_num_threads = 1
    o.add_session_config_entry('session.intra_op.allow_spinning', '0')  # passive, as segscope's threads
    return ort.InferenceSession(path, o, providers=['CPUExecutionProvider'])
tid = tokenize(tok, texts, max_length=128)
def run_ort(sess):
    out = np.zeros((len(tid), 384), np.float32)
    for w, index in length_batches([len(x) for x in tid], 64, 128):
        rows = -(-len(index)//ROW_BLOCK)*ROW_BLOCK
        i, m = pad_batch([tid[k] for k in index], 0, width=w, rows=rows)
        out[index] = sess.run(None, {'ids': i.numpy(), 'mask': m.numpy()})[0][:len(index)]
    return out
res = {}
for label, fn in [('torch fp32', lambda: predict(model, tok, texts, precision='fp32')[1]),
                  ('torch bf16', lambda: predict(model, tok, texts, precision='bf16')[1]),
                  ('ort fp32', (lambda s: lambda: run_ort(s))(session(f'{TMP}/minilm.onnx'))),
                  ('ort int8', (lambda s: lambda: run_ort(s))(session(f'{TMP}/minilm_int8.onnx')))]:
    fn()  # warm-up
    t = time.perf_counter(); e = fn(); dt = time.perf_counter() - t
    res[label] = e; print(label, round(len(texts)/dt, 1), 'reviews/s', flush=True)
ref = res['torch fp32']
for k, e in res.items():
    cos = (e*ref).sum(1)/np.linalg.norm(e,axis=1)/np.linalg.norm(ref,axis=1)
    print(k, 'cos to fp32 min %.5f mean %.6f' % (cos.min(), cos.mean()))
