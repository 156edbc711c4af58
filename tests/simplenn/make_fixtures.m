% make_fixtures.m -- reference values from simpleNN itself, for kronconv's tests.
%
%   cd tests/simplenn && octave-cli --no-gui make_fixtures.m
%
% Runs the vendored, unchanged simpleNN code in MATLAB/ on three configurations and writes one
% MATLAB v7 .mat file per configuration into fixtures/ (see README.md for what each holds).
% Deterministic: every simpleNN run is seeded through cnn_train's own seed argument
% (rand('state', seed); randn('state', seed)), and everything the script draws itself is seeded
% the same way. The random index sets simpleNN draws (Newton's subsample permutations, the SG and
% Adam mini-batches) and the full-precision numbers behind its %g progress lines are recorded by
% the wrappers in wrappers/ (randperm.m, fprintf.m), which shadow Octave's built-ins, call them
% through builtin() and log what they were given or returned; simpleNN's files are not touched.
% Every recorded run is then replayed here from the recorded indices with simpleNN's own
% functions (CG, fungrad_minibatch, lossgrad_subset) and must reproduce simpleNN's numbers exactly.

1;  % an Octave script file that defines functions

% ------------------------------------------------------------------------------------------
function param = make_param (options, l)
% cnn_train.m's parameter() on a CPU in Octave (gpu_use = 0, float_type = 'double').
param = struct ('solver', 1, 'C', 0.01, 'bsize', [], 'GNsize', ceil (0.05*l), 'iter_max', 100, ...
                'xi', 0.1, 'CGmax', 250, 'lambda', 1, 'drop', 2/3, 'boost', 3/2, 'eta', 1e-4, ...
                'Jacobian', true, 'epoch_max', 500, 'lr', 0.01, 'decay', 0, 'momentum', 0);
% (cnn_train sets lr = 0.001 only when param.solver == 3 *before* parsing the options, when
% solver is still 1: the default lr is 0.01 for every solver, Adam included.)
opts = strsplit (strtrim (options), ' ');
for i = 1 : numel (opts)/2
  name = opts{2*i-1}(2:end);
  value = str2num (opts{2*i});
  if strcmp (name, 's')
    name = 'solver';
  end
  if ~isfield (param, name)
    error ('make_param: unsupported option %s', name);
  end
  param.(name) = value;
end
param.Jacobian = logical (param.Jacobian);
if isempty (param.bsize)
  if param.solver == 1
    param.bsize = 1024;
  else
    param.bsize = 128;
  end
end
param.C = param.C * l;
end

function prob = make_prob (y, Z, net_config)
% what cnn_train and train.m make of (y, Z)
prob = check_data (y, Z, net_config);
[~, ~, prob.y_mapped] = unique (prob.y);
end

function x = flat (Wc, bc)
% simpleNN's parameter vector (model.var_ptr order): per layer [vec(W); b]
x = [];
for m = 1 : numel (Wc)
  x = [x; Wc{m}(:); bc{m}(:)];
end
end

function [Wc, bc] = unflat (x, model)
Wc = cell (model.L, 1); bc = cell (model.L, 1);
rows = [model.ch_input; model.full_neurons];
for m = 1 : model.L
  X = reshape (x(model.var_ptr(m) : model.var_ptr(m+1)-1), rows(m+1), []);
  Wc{m} = X(:, 1:end-1); bc{m} = X(:, end);
end
end

function r = rowvals (c)
r = cell2mat (cellfun (@double, c, 'UniformOutput', false));
end

function [log, f0, total_cg] = parse_log (entries, pattern)
% the numbers behind the progress lines whose format starts with pattern
log = []; f0 = NaN; total_cg = NaN;
for i = 1 : numel (entries)
  e = entries{i};
  if ~ischar (e{1})
    continue
  end
  if strncmp (e{1}, pattern, numel (pattern))
    log = [log; rowvals(e(2:end))];
  elseif strncmp (e{1}, 'initial f:', 10)
    f0 = e{2};
  elseif strncmp (e{1}, 'total_#CG:', 10)
    total_cg = e{2};
  end
end
end

function model = update_weights (model, alpha, x)
% newton.m's update_weights: the line search's halvings are applied incrementally
if alpha == 1
  old_alpha = 0;
else
  old_alpha = alpha / 0.5;
end
rows = [model.ch_input; model.full_neurons];
for m = 1 : model.L
  X = reshape (x(model.var_ptr(m) : model.var_ptr(m+1)-1), rows(m+1), []);
  model.weight{m} = model.weight{m} + (alpha - old_alpha) * X(:, 1:end-1);
  model.bias{m} = model.bias{m} + (alpha - old_alpha) * X(:, end);
end
end

function [log, model] = replay_newton (prob, param, model, net, batch_idx)
% newton.m's loop with the recorded subsample of each iteration
[net, f, grad] = fungrad_minibatch (prob, param, model, net, 'fungrad');
log = zeros (param.iter_max, 9);
for k = 1 : param.iter_max
  [x, CGiter, gs, sGs] = CG (prob.data(:, batch_idx(k, :)), param, model, net, grad);
  fold = f;
  alpha = 1;
  while 1
    model = update_weights (model, alpha, x);
    prered = alpha*gs + 0.5*(alpha^2)*sGs;
    [~, f, ~] = fungrad_minibatch (prob, param, model, net, 'funonly');
    actred = f - fold;
    if actred <= param.eta*alpha*gs
      break
    end
    alpha = alpha * 0.5;
  end
  phik = actred/prered;
  if phik < 0.25
    param.lambda = param.lambda * param.boost;
  elseif phik >= 0.75
    param.lambda = param.lambda * param.drop;
  end
  [net, f, grad] = fungrad_minibatch (prob, param, model, net, 'fungrad');
  gnorm = 0;
  for m = 1 : model.L
    gnorm = gnorm + norm (grad.dfdW{m}, 'fro')^2 + norm (grad.dfdb{m})^2;
  end
  log(k, :) = [k, f, sqrt(gnorm), alpha, actred/prered, param.lambda, CGiter, actred, prered];
end
end

function [losses, model] = replay_sgd (prob, param, model, net, batch_idx)
% sgd.m's first epoch with the recorded mini-batches
lr = param.lr;
v = cell (model.L, 1); v(:) = {0};
step = 1;
bsize = param.bsize;
losses = zeros (size (batch_idx, 1), 1);
for j = 1 : size (batch_idx, 1)
  [net, loss] = lossgrad_subset (prob, model, net, batch_idx(j, :), 'fungrad');
  losses(j) = loss;
  for m = 1 : model.L
    Grad = [net.dlossdW{m} net.dlossdb{m}]/bsize;
    Grad = Grad + [model.weight{m} model.bias{m}]/param.C;
    v{m} = param.momentum*v{m} - lr*Grad;
    model.weight{m} = model.weight{m} + v{m}(:, 1:end-1);
    model.bias{m} = model.bias{m} + v{m}(:, end);
  end
  lr = param.lr/(1 + param.decay*step);
  step = step + 1;
end
end

function [losses, model] = replay_adam (prob, param, model, net, batch_idx)
% adam.m's first epoch (k = 1) with the recorded mini-batches
beta1 = 0.9; beta2 = 0.999; alpha = param.lr; epsilon = 1e-8; k = 1;
var_ptr = model.var_ptr;
ch = [model.ch_input; model.full_neurons];
num_w = var_ptr(2:end) - var_ptr(1:end-1) - ch(2:end);
M = cell (model.L, 1); V = cell (model.L, 1);
for m = 1 : model.L
  M{m} = zeros (var_ptr(m+1)-var_ptr(m), 1); V{m} = M{m};
end
bsize = param.bsize;
losses = zeros (size (batch_idx, 1), 1);
for j = 1 : size (batch_idx, 1)
  [net, loss] = lossgrad_subset (prob, model, net, batch_idx(j, :), 'fungrad');
  losses(j) = loss;
  for m = 1 : model.L
    gradW = [model.weight{m}(:); model.bias{m}]/param.C + [net.dlossdW{m}(:); net.dlossdb{m}]/bsize;
    M{m} = beta1*M{m} + (1-beta1)*gradW;
    V{m} = beta2*V{m} + (1-beta2)*(gradW.*gradW);
    M_hat = M{m}/(1-beta1^k);
    V_hat = V{m}/(1-beta2^k);
    model.weight{m} = model.weight{m} - alpha*reshape (M_hat(1:num_w(m))./(sqrt (V_hat(1:num_w(m)))+epsilon), ch(m+1), []);
    model.bias{m} = model.bias{m} - alpha*(M_hat(num_w(m)+1:end)./(sqrt (V_hat(num_w(m)+1:end))+epsilon));
  end
end
end

function same_weights (A, B, what)
for m = 1 : numel (A.weight)
  if ~isequal (A.weight{m}, B.weight{m}) || ~isequal (A.bias{m}, B.bias{m})
    error ('%s: layer %d differs (max %g)', what, m, max (abs (A.weight{m}(:) - B.weight{m}(:))));
  end
end
end

function check_first_layer (model, Zrow, data_col)
% Layer 1 of instance Zrow computed with explicit windows, against simpleNN's feedforward:
% Z's row holds channel c in columns (c-1)*a*b+1 .. c*a*b, each column-wise (height fastest);
% W{1}(:, p + h*(q-1) + h*h*(c-1)) multiplies the pixel at filter row p, filter column q, channel c.
a = model.ht_input(1); b = model.wd_input(1); d = model.ch_input(1);
X = zeros (d, a, b);
for c = 1 : d
  X(c, :, :) = reshape (Zrow((c-1)*a*b+1 : c*a*b), 1, a, b);
end
p = model.wd_pad_added(1);
Xp = zeros (d, a+2*p, b+2*p);
Xp(:, p+1:p+a, p+1:p+b) = X;
h = model.wd_filter(1); s = model.strides(1); dout = model.ch_input(2);
S = zeros (dout, model.ht_conv(1), model.wd_conv(1));
for i = 1 : model.ht_conv(1)
  for j = 1 : model.wd_conv(1)
    patch = permute (Xp(:, (i-1)*s+(1:h), (j-1)*s+(1:h)), [2 3 1]);
    S(:, i, j) = max (model.weight{1}*patch(:) + model.bias{1}, 0);
  end
end
ps = model.wd_subimage_pool(1);
A = model.ht_input(2); B = model.wd_input(2);
P = zeros (dout, A, B);
for i = 1 : A
  for j = 1 : B
    P(:, i, j) = max (reshape (S(:, (i-1)*ps+(1:ps), (j-1)*ps+(1:ps)), dout, []), [], 2);
  end
end
net = init_net (model, struct ('bsize', 1));
net = feedforward (data_col, model, net);
err = max (abs (P(:) - net.Z{2}(:)));
if err > 1e-12
  error ('layer-1 layout check failed: %g', err);
end
fprintf ('  layer-1 layout check (explicit windows, %dx%d input): max diff %g\n', a, b, err);
end

function check_gradient_fd (prob, param, model, net, grad)
% central differences of f along a random +-1 direction in each layer's weights (biases are left
% out: at the initial b = 0, a zero patch gives a pre-activation of exactly 0, where simpleNN
% takes ReLU'(0) = 0 and a finite difference sees the kink)
worst = 0;
rand ('state', 5);
for m = 1 : model.L
  dW = 2*(rand (size (model.weight{m})) > 0.5) - 1;
  ref = dW(:)'*grad.dfdW{m}(:);
  % the smallest error over a few steps: with many ReLU/pooling units some pre-activation lies
  % within a step of a kink for some step sizes
  err = Inf;
  for hh = [1e-5 1e-6 1e-7]
    mo = model;
    mo.weight{m} = model.weight{m} + hh*dW;
    [~, fp] = fungrad_minibatch (prob, param, mo, net, 'funonly');
    mo.weight{m} = model.weight{m} - hh*dW;
    [~, fm] = fungrad_minibatch (prob, param, mo, net, 'funonly');
    fd = (fp - fm)/(2*hh);
    err = min (err, abs (fd - ref)/abs (ref));
  end
  worst = max (worst, err);
  if err > 1e-5
    error ('finite-difference check failed: layer %d: rel. error %g', m, err);
  end
end
fprintf ('  finite-difference check of the gradient (one direction per layer): worst rel. error %g\n', worst);
end

function scores = predict_scores (model, y, Z, bsize)
% the scores (z^{L+1}) behind cnn_predict's labels, computed as predict.m does
prob = check_data (y, Z, model.net_config);
net = init_net (model, struct ('bsize', bsize));
scores = zeros (model.nL, prob.l);
for i = 1 : ceil (prob.l/bsize)
  range = (i-1)*bsize + 1 : min (prob.l, i*bsize);
  net = feedforward (prob.data(:, range), model, net);
  scores(:, range) = net.Z{model.L+1};
end
end

function out = make_fixture (cfg)
global SIMPLENN_RANDPERM_LOG SIMPLENN_FPRINTF_LOG
tic;
fprintf ('== %s (%s)\n', cfg.name, cfg.config_file);
y = cfg.y; Z = cfg.Z; seed = cfg.seed;
l = size (Z, 1);
net_config = read_config (cfg.config_file);

out = struct ();
out.description = cfg.description;
out.simplenn_commit = '96954c7';
out.octave_version = OCTAVE_VERSION;
out.config_name = cfg.config_name;
out.config_text = fileread (cfg.config_file);
out.net_config = net_config;
out.seed = seed;
out.Z = Z;
out.y = y;
for f = fieldnames (cfg.extra)'
  out.(f{1}) = cfg.extra.(f{1});
end

% ---- the initial model: cnn_train with 0 SG epochs returns the model init_model drew from the
% seed (train.m: init_model, then unique(y) for the labels; the solver loop runs 0 times).
% Every run below uses the same seed, so each starts from exactly these weights.
out.opt_init = sprintf ('-s 2 -epoch_max 0 -C %g', cfg.C);
SIMPLENN_RANDPERM_LOG = {};
model0 = cnn_train (y, Z, [], [], cfg.config_file, out.opt_init, seed);
assert (isempty (SIMPLENN_RANDPERM_LOG));
out.W0 = model0.weight;
out.b0 = model0.bias;
out.labels = model0.labels;
out.var_ptr = model0.var_ptr;
meta = rmfield (model0, {'weight', 'bias'});
out.model_meta = meta;

% ---- f and gradient at the initial weights, on all l instances (fungrad_minibatch with the
% Newton run's param, so f0 is bit-identical to the Newton run's 'initial f')
out.opt_newton = cfg.opt_newton;
param = make_param (cfg.opt_newton, l);
out.C = cfg.C;
out.param_C = param.C;
out.bsize_newton = param.bsize;
prob = make_prob (y, Z, net_config);
out.y_mapped = prob.y_mapped;
net = init_net (model0, param);
check_first_layer (model0, Z(1, :), prob.data(:, 1));
[net, f0, grad0] = fungrad_minibatch (prob, param, model0, net, 'fungrad');
check_gradient_fd (prob, param, model0, net, grad0);
out.f0 = f0;
out.grad_W = grad0.dfdW(:);
out.grad_b = grad0.dfdb(:);

% ---- Jv, J'BJv and Gv for a fixed direction v on a fixed subset S (1-based, in this order):
% Jv.m, then JTv.m on B*Jv with B = 2I (CG.m's R_JTBJv, one chunk), then CG.m's
% Gv = (lambda + 1/param.C)*v + JTBJv/|S| with lambda = param.lambda (the initial 1).
rand ('state', seed + 1); randn ('state', seed + 1);
n = model0.var_ptr(end) - 1;
v = (randi (4, n, 1) - 2.5)/2;   % entries -0.75, -0.25, 0.25, 0.75: exact, and small on disk
S_idx = randperm (l, cfg.nS);
data = prob.data(:, S_idx);
[Jv_, net_s] = Jv (data, model0, net, v);
JTv_ = JTv (model0, net_s, 2*Jv_);
JTBJv = [];
for m = 1 : model0.L
  JTBJv = [JTBJv; JTv_{m}(:)];
end
Gv = (param.lambda + 1/param.C)*v + JTBJv/cfg.nS;
% the same product through CG.m's other path (the stored Jacobian, JTBJv): one CG step from
% grad = -v gives s = alpha*v with alpha = v'v / v'Gv
[vW, vb] = unflat (-v, model0);
p1 = param; p1.CGmax = 1; p1.Jacobian = true;
[~, ~, gs1, ~] = CG (data, p1, model0, net, struct ('dfdW', {vW}, 'dfdb', {vb}));
vGv_cg = (v'*v)/(-gs1/(v'*v));
rel = abs (vGv_cg - v'*Gv)/abs (v'*Gv);
fprintf ('  v''Gv: Jv/JTv path %.17g, CG Jacobian path %.17g (rel. diff %g)\n', v'*Gv, vGv_cg, rel);
assert (rel < 1e-10);
out.v = v;
out.S_idx = S_idx;
out.Jv = Jv_;
out.JTBJv = JTBJv;
out.Gv_lambda = param.lambda;
out.vGv_cg_jacobian = vGv_cg;
if cfg.full
  out.Gv = Gv;
end

% ---- Newton: record the printed values at full precision and every permutation drawn
SIMPLENN_RANDPERM_LOG = {}; SIMPLENN_FPRINTF_LOG = {};
out.newton_text = evalc ('model_newton = cnn_train (y, Z, [], [], cfg.config_file, cfg.opt_newton, seed);');
printf ('%s', out.newton_text);
perms = SIMPLENN_RANDPERM_LOG(:);
[nlog, nf0, ncg] = parse_log (SIMPLENN_FPRINTF_LOG, '%d-iter');
assert (nf0 == f0);
out.newton_f_initial = nf0;
out.newton_log = nlog;
out.newton_log_columns = 'k f gnorm alpha ratio lambda CGiter actred prered';
out.newton_total_CG = ncg;
out.newton_perms = perms;
% the subsample of each iteration, as newton.m/assign_inst_idx pick it from the permutations
GN = param.GNsize; nsplit = ceil (l/GN); draw = 0;
B = zeros (param.iter_max, GN);
for k = 1 : param.iter_max
  if mod (k, nsplit) == 1 || l == GN
    draw = draw + 1;
    pp = perms{draw};
    assert (isequal (sort (pp), 1:l));
    pp = [pp pp(1:GN)];
  end
  cb = mod (k-1, nsplit) + 1;
  B(k, :) = pp((cb-1)*GN+1 : cb*GN);
end
assert (draw == numel (perms));
out.newton_batch_idx = B;
[rlog, rmodel] = replay_newton (prob, param, model0, net, B);
assert (isequal (rlog, nlog));
same_weights (rmodel, model_newton, 'Newton replay');
fprintf ('  Newton replay from the recorded subsamples: identical\n');

% ---- SG with momentum and decay, one epoch
out.opt_sgd = cfg.opt_sgd;
SIMPLENN_RANDPERM_LOG = {}; SIMPLENN_FPRINTF_LOG = {};
out.sgd_text = evalc ('model_sgd = cnn_train (y, Z, [], [], cfg.config_file, cfg.opt_sgd, seed);');
printf ('%s', out.sgd_text);
out.sgd_batch_idx = vertcat (SIMPLENN_RANDPERM_LOG{:});
out.sgd_log = parse_log (SIMPLENN_FPRINTF_LOG, '%d-epoch');
out.sgd_log_columns = 'epoch last_batch_loss/bsize';
ps = make_param (cfg.opt_sgd, l);
[losses, rmodel] = replay_sgd (prob, ps, model0, init_net (model0, ps), out.sgd_batch_idx);
assert (losses(end)/ps.bsize == out.sgd_log(end, 2));
same_weights (rmodel, model_sgd, 'SG replay');
out.sgd_batch_loss = losses;
fprintf ('  SG replay from the recorded mini-batches: identical\n');

% ---- Adam, one epoch
out.opt_adam = cfg.opt_adam;
SIMPLENN_RANDPERM_LOG = {}; SIMPLENN_FPRINTF_LOG = {};
out.adam_text = evalc ('model_adam = cnn_train (y, Z, [], [], cfg.config_file, cfg.opt_adam, seed);');
printf ('%s', out.adam_text);
out.adam_batch_idx = vertcat (SIMPLENN_RANDPERM_LOG{:});
out.adam_log = parse_log (SIMPLENN_FPRINTF_LOG, '%d-epoch');
out.adam_log_columns = 'epoch last_batch_loss/bsize';
pa = make_param (cfg.opt_adam, l);
[losses, rmodel] = replay_adam (prob, pa, model0, init_net (model0, pa), out.adam_batch_idx);
assert (losses(end)/pa.bsize == out.adam_log(end, 2));
same_weights (rmodel, model_adam, 'Adam replay');
out.adam_batch_loss = losses;
fprintf ('  Adam replay from the recorded mini-batches: identical\n');

% ---- the trained models: full weights, or (when too large for the size budget) the weights at
% fixed probe positions plus per-layer Frobenius norms; biases always in full
rand ('state', seed + 2);
probe = cell (model0.L, 1);
for m = 1 : model0.L
  probe{m} = sort (randperm (numel (model0.weight{m}), min (cfg.nprobe, numel (model0.weight{m}))))';
end
out.probe_idx = probe;
runs = {'newton', model_newton; 'sgd', model_sgd; 'adam', model_adam};
for r = 1 : rows (runs)
  name = runs{r, 1}; M = runs{r, 2};
  vals = cell (M.L, 1); nrm = zeros (M.L, 1);
  for m = 1 : M.L
    vals{m} = M.weight{m}(probe{m});
    nrm(m) = norm (M.weight{m}, 'fro');
  end
  out.([name '_W_probe']) = vals;
  out.([name '_W_norm']) = nrm;
  out.([name '_b']) = M.bias;
  if cfg.full
    out.([name '_W']) = M.weight;
  end
  % cnn_predict on the test instances, and the scores behind its labels
  [pred, acc] = cnn_predict (cfg.y_test, cfg.Z_test, M);
  out.([name '_predict']) = pred;
  out.([name '_acc']) = acc;
  out.([name '_test_scores']) = predict_scores (M, cfg.y_test, cfg.Z_test, 128);
  fprintf ('  %s: test accuracy %g on %d instances\n', name, acc, numel (cfg.y_test));
end
out.model_newton = rmfield (model_newton, {'weight', 'bias'});
out.y_test = cfg.y_test;
if cfg.save_Z_test
  out.Z_test = cfg.Z_test;
end

save ('-v7', cfg.out_file, '-struct', 'out');
% the 116-byte descriptive header holds the time of writing; a fixed text keeps the file
% byte-identical across regenerations (readers ignore this text)
fid = fopen (cfg.out_file, 'r+');
hdr = sprintf ('MATLAB 5.0 MAT-file, written by Octave %s, kronconv tests/simplenn/make_fixtures.m', OCTAVE_VERSION);
fwrite (fid, [hdr, repmat(' ', 1, 116 - numel (hdr))], 'char');
fclose (fid);
d = dir (cfg.out_file);
fprintf ('  wrote %s (%d bytes) in %.1f s\n', cfg.out_file, d.bytes, toc);
end

% ------------------------------------------------------------------------------------------
% main
here = fileparts (mfilename ('fullpath'));
if isempty (here)
  here = pwd;
end
matlab_dir = fullfile (here, 'MATLAB');
data_dir = fullfile (here, '..', '..', 'kronconv', 'datasets');   % the mnist-demo files the package ships
fix_dir = fullfile (here, 'fixtures');
if ~exist (fix_dir, 'dir')
  mkdir (fix_dir);
end

global SIMPLENN_RANDPERM_LOG SIMPLENN_FPRINTF_LOG
SIMPLENN_RANDPERM_LOG = {}; SIMPLENN_FPRINTF_LOG = {};
warning ('off', 'Octave:shadowed-function');
addpath (fullfile (here, 'wrappers'), '-begin');
assert (strcmp (which ('randperm'), fullfile (here, 'wrappers', 'randperm.m')));
assert (strcmp (which ('fprintf'), fullfile (here, 'wrappers', 'fprintf.m')));

% cnn_train/cnn_predict add './cnn' and './opt' relative to the current directory
old_dir = pwd;
old_path = path ();
cd (matlab_dir);
addpath (genpath (fullfile (matlab_dir, 'cnn')), genpath (fullfile (matlab_dir, 'opt')));
global gpu_use float_type
gpu_use = false; float_type = 'double';

% ---- mnist-demo, prepared exactly as example.m does (row-wise 28x28, 1 channel)
a = 28; b = 28; d = 1;
load (fullfile (data_dir, 'mnist-demo.mat'), 'y', 'Z');
Z = [full(Z) zeros(size (Z, 1), a*b*d - size (Z, 2))];
Z = reshape (permute (reshape (Z, [], b, a, d), [1, 3, 2, 4]), [], a*b*d);
Z = Z / 255;
mean_tr = mean (Z);   % over all 2,000 training images, as example.m
Z = Z - mean_tr;
Ztr_all = Z; ytr_all = y;
load (fullfile (data_dir, 'mnist-demo.t.mat'), 'y', 'Z');
Z = [full(Z) zeros(size (Z, 1), a*b*d - size (Z, 2))];
Z = reshape (permute (reshape (Z, [], b, a, d), [1, 3, 2, 4]), [], a*b*d);
Z = Z / 255;
Z = Z - mean_tr;
Zte_all = Z; yte_all = y;
clear y Z

l_mnist = 100;      % training instances (rows 1..l of mnist-demo.mat)
l_test = 100;       % test instances (rows 1..l_test of mnist-demo.t.mat)
mnist_extra = struct ('train_idx', (1:l_mnist)', 'test_idx', (1:l_test)', 'mean_tr', mean_tr);

% (a) the shipped configuration
cfg = struct ();
cfg.name = 'a'; cfg.config_name = 'mnist-demo-layer4';
cfg.description = ['simpleNN fixture (a): the shipped config/mnist-demo-layer4.config on the first ' ...
                   'mnist-demo training images, prepared as example.m'];
cfg.config_file = fullfile (matlab_dir, 'config', 'mnist-demo-layer4.config');
cfg.y = ytr_all(1:l_mnist); cfg.Z = Ztr_all(1:l_mnist, :);
cfg.y_test = yte_all(1:l_test); cfg.Z_test = Zte_all(1:l_test, :); cfg.save_Z_test = false;
cfg.extra = mnist_extra;
cfg.seed = 111; cfg.C = 0.01; cfg.nS = 8;
cfg.opt_newton = '-s 1 -C 0.01 -GNsize 30 -iter_max 5 -bsize 64';
cfg.opt_sgd = '-s 2 -C 0.01 -epoch_max 1 -bsize 16 -lr 0.01 -momentum 0.9 -decay 0.1';
cfg.opt_adam = '-s 3 -C 0.01 -epoch_max 1 -bsize 16 -lr 0.001';
cfg.full = false; cfg.nprobe = 100;
cfg.out_file = fullfile (fix_dir, 'a_mnist-demo-layer4.mat');
make_fixture (cfg);

% (b) stride 2, a layer without pooling, two fully-connected layers
cfg.name = 'b'; cfg.config_name = 'stride2-nopool-fc2';
cfg.description = ['simpleNN fixture (b): configs/stride2-nopool-fc2.config on the first ' ...
                   'mnist-demo training images, prepared as example.m'];
cfg.config_file = fullfile (here, 'configs', 'stride2-nopool-fc2.config');
cfg.seed = 222; cfg.C = 0.1; cfg.nS = 12;
cfg.opt_newton = '-s 1 -C 0.1 -GNsize 40 -iter_max 5 -bsize 64';
cfg.opt_sgd = '-s 2 -C 0.1 -epoch_max 1 -bsize 20 -lr 0.02 -momentum 0.8 -decay 0.05';
cfg.opt_adam = '-s 3 -C 0.1 -epoch_max 1 -bsize 20 -lr 0.002';
cfg.full = true; cfg.nprobe = 100;
cfg.out_file = fullfile (fix_dir, 'b_stride2-nopool-fc2.mat');
make_fixture (cfg);

% (c) three input channels, non-square input, random data with non-contiguous labels
net_c = read_config (fullfile (here, 'configs', 'rgb-nonsquare.config'));
ha = net_c.ht_input; wb = net_c.wd_input; dc = net_c.ch_input(1);
rand ('state', 333); randn ('state', 333);
l_c = 120; l_c_test = 40;
class_labels = [-1; 2; 3; 7];
% rows in simpleNN's layout: columns (c-1)*a*b+1 .. c*a*b hold channel c, column-wise;
% entries are multiples of 1/8 (exact, compressible)
Zc = round (8*randn (l_c + l_c_test, dc*ha*wb))/8;
yc = class_labels([1:4, randi(4, 1, l_c - 4), 1:4, randi(4, 1, l_c_test - 4)]');
cfg.name = 'c'; cfg.config_name = 'rgb-nonsquare';
cfg.description = ['simpleNN fixture (c): configs/rgb-nonsquare.config (3 channels, 10x12) on ' ...
                   'random data (multiples of 1/8) with labels -1, 2, 3, 7'];
cfg.config_file = fullfile (here, 'configs', 'rgb-nonsquare.config');
cfg.y = yc(1:l_c); cfg.Z = Zc(1:l_c, :);
cfg.y_test = yc(l_c+1:end); cfg.Z_test = Zc(l_c+1:end, :); cfg.save_Z_test = true;
cfg.extra = struct ('data_seed', 333);
cfg.seed = 333; cfg.C = 0.01; cfg.nS = 10;
cfg.opt_newton = '-s 1 -C 0.01 -GNsize 50 -iter_max 5 -bsize 32';
cfg.opt_sgd = '-s 2 -C 0.01 -epoch_max 1 -bsize 32 -lr 0.01 -momentum 0.9 -decay 0.2';
cfg.opt_adam = '-s 3 -C 0.01 -epoch_max 1 -bsize 32 -lr 0.01';
cfg.full = true; cfg.nprobe = 100;
cfg.out_file = fullfile (fix_dir, 'c_rgb-nonsquare.mat');
make_fixture (cfg);

path (old_path);
cd (old_dir);
fprintf ('done\n');
